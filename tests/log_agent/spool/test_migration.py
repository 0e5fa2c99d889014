"""Updating the agent with records pending: a format-1 spool (written by the release before the chunk
spool, kept in fixtures/spool_v1) is migrated once, exactly, also when the migration is killed."""

from __future__ import annotations

import json
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import msgpack
import pytest
from log_agent.errors import SpoolError
from log_agent.spool import Spool, SpoolConfig

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "spool_v1"


def spool_at(directory: Path, **overrides: object) -> Spool:
    return Spool(SpoolConfig.from_dict({"dir": str(directory), "max_bytes": "64MiB", **overrides}))


def drain(spool: Spool, reader: str) -> list[dict]:
    records = []
    while True:
        batch = spool.read(reader, max_records=1000)
        if not batch.chunks and not batch.corrupt:
            return records
        records += [{"tag": r.tag, "time_ns": r.time_ns, "record": r.record} for r in batch.records]
        spool.commit(batch)


def expected_v1() -> dict:
    document = json.loads((FIXTURE / "expected.json").read_text())
    for item in document["records"]:
        if "blob" in item["record"]:
            item["record"]["blob"] = bytes.fromhex(item["record"]["blob"])
    return document


def test_a_spool_written_by_the_previous_release_is_read_with_its_cursors(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "spool")
    expected = expected_v1()
    with spool_at(tmp_path / "spool") as spool:
        spool.register("slow")
        spool.register("fast")
        assert spool.stats().backlog_records == {"slow": 100, "fast": 60}
        assert drain(spool, "slow") == expected["records"]  # bytes stay bytes, times to the ns
        assert drain(spool, "fast") == expected["records"][expected["fast_committed"]:]
    assert (tmp_path / "spool" / "FORMAT").read_text() == "2\n"
    assert not (tmp_path / "spool" / "segments").exists()  # format 1 is gone once migrated
    with spool_at(tmp_path / "spool") as spool:  # and nothing comes back a second time
        assert drain(spool, "slow") == [] and drain(spool, "fast") == []


def test_a_spool_from_a_newer_release_is_refused_and_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    (root / "FORMAT").write_text("3\n")
    (root / "v3").mkdir()
    with pytest.raises(SpoolError, match="format 3, written by a newer log-agent"):
        spool_at(root)
    assert sorted(p.name for p in root.iterdir()) == ["FORMAT", "v3"]


def write_v1_spool(root: Path, records: int, per_segment: int) -> None:
    """The exact bytes the previous release wrote: one [tag, time_ns, record] frame per record."""
    segments = root / "segments"
    segments.mkdir(parents=True)
    for seg, first in enumerate(range(0, records, per_segment), start=1):
        frames = bytearray()
        for n in range(first, min(first + per_segment, records)):
            payload = msgpack.packb([f"app.{n % 3}", 1_700_000_000_000_000_000 + n,
                                     {"n": n, "msg": "x" * 200}], use_bin_type=True)
            frames += struct.pack(">II", len(payload), zlib.crc32(payload)) + payload
        (segments / f"{seg:016d}.seg").write_bytes(frames)
    (root / "cursors").mkdir()
    (root / "cursors" / "out.cursor").write_text(json.dumps({"segment": 1, "offset": 0}))


MIGRATE = """
import sys
from log_agent.spool import Spool, SpoolConfig
Spool(SpoolConfig.from_dict({"dir": sys.argv[1], "max_bytes": "256MiB"})).close()
"""


def test_kill_9_in_the_middle_of_the_migration_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    total = 60_000
    write_v1_spool(root, total, per_segment=5000)
    kills = 0
    for delay in (0.15, 0.3, 0.5, 0.8):
        if not (root / "segments").exists():
            break
        child = subprocess.Popen([sys.executable, "-c", MIGRATE, str(root)])
        deadline = time.monotonic() + 10
        while not (root / "v2.migrating").exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay / 10)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait(timeout=10)
    assert kills  # at least one migration really was cut short
    with spool_at(root, max_bytes="256MiB") as spool:
        spool.register("out")
        numbers = [r["record"]["n"] for r in drain(spool, "out")]
    assert numbers == list(range(total))  # each record exactly once, in order
    assert not (root / "v2.migrating").exists() and not (root / "segments").exists()


def test_an_update_with_records_pending_delivers_them_all_with_the_identity(tmp_path: Path) -> None:
    """The new agent starts on the old release's spool and ships what was waiting."""
    from tests.log_agent.agent_process import AgentProcess, wait_for
    from tests.log_agent.forward_receiver import ForwardReceiver

    shutil.copytree(FIXTURE, tmp_path / "spool")
    with ForwardReceiver() as receiver:
        agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{receiver.port}",
                                        "BALENA_DEVICE_UUID": "dev-1"})
        try:
            agent.start()
            assert wait_for(lambda: len(receiver.records()) >= 100, timeout=20)
            assert agent.terminate() == 0
        finally:
            agent.cleanup()
    records = receiver.records()
    assert sorted(r["seq"] for r in records) == list(range(100))  # its output had no cursor yet
    assert all(r["device"]["uuid"] == "dev-1" for r in records)
