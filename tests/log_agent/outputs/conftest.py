"""Fixtures for the output tests: a started HttpReceiver, stopped after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.log_agent.http_receiver import HttpReceiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as started:
        yield started
