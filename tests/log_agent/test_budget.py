"""The one memory budget: reservations wait, then are refused with a count; its setting."""

from __future__ import annotations

import threading
import time

import pytest
from log_agent.budget import MemoryBudget
from log_agent.config import AgentConfig
from log_agent.errors import BudgetExceeded, ConfigError

MiB = 1024 * 1024


def test_a_reservation_waits_for_room_then_is_refused_and_counted() -> None:
    budget = MemoryBudget(10 * MiB)
    budget.acquire(8 * MiB)
    threading.Timer(0.1, budget.release, args=(8 * MiB,)).start()
    started = time.monotonic()
    budget.acquire(4 * MiB, timeout=5)  # waited for the release, not refused
    assert 0.05 < time.monotonic() - started < 4 and budget.waits == 1
    with pytest.raises(BudgetExceeded, match="in use"):
        budget.acquire(7 * MiB, timeout=0.1)
    with pytest.raises(BudgetExceeded, match="more than the whole"):
        budget.acquire(11 * MiB, timeout=5)  # can never fit: refused at once
    assert budget.refused == 2 and budget.in_use == 4 * MiB and budget.peak == 8 * MiB


def test_the_budget_is_one_setting_read_at_start() -> None:
    assert AgentConfig.from_sources({}, {}).memory_budget == 32 * MiB
    running = AgentConfig.from_sources({"memory_budget": "48MiB"}, {})
    assert running.memory_budget == 48 * MiB
    with pytest.raises(ConfigError) as small:
        AgentConfig.from_sources({"memory_budget": "1MiB"}, {})
    assert small.value.key == "memory_budget"
    with pytest.raises(ConfigError) as bad:
        AgentConfig.from_sources({"memory_budget": "lots"}, {})
    assert bad.value.key == "memory_budget"
    reloaded = AgentConfig.from_sources({"memory_budget": "64MiB"}, {})
    assert running.restart_only_changes(reloaded) == ["memory_budget"]
    assert running.keeping_restart_only(reloaded).memory_budget == 48 * MiB
