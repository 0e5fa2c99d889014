"""A files input over a real spool that its output drains slowly: the input pauses while the spool is
full instead of letting drop_oldest throw away lines it can read again later."""

from __future__ import annotations

from pathlib import Path

from log_agent.budget import MemoryBudget
from log_agent.inputs.files import FilesInput, FilesInputConfig
from log_agent.sink import SpoolSink
from log_agent.spool import Spool, SpoolConfig

from tests.log_agent.agent_process import wait_for


def test_a_full_spool_pauses_the_files_input_and_nothing_is_dropped(tmp_path: Path) -> None:
    spool = Spool(SpoolConfig.from_dict({"dir": str(tmp_path / "spool"), "max_bytes": "1MiB"}))
    spool.register("out")
    line = "x" * 100
    lines = 40_000  # ~4 MiB: four times the spool
    (tmp_path / "app.log").write_text("".join(f"{i:06d} {line}\n" for i in range(lines)))
    source = FilesInput(FilesInputConfig.from_dict({"paths": str(tmp_path / "app.log"), "read_from": "head",
                                                    "state_dir": str(tmp_path / "state"),
                                                    "read_bytes": "64KiB"}))
    source.start(SpoolSink(spool, MemoryBudget(), "files", None))
    received = 0
    try:
        paused = lambda: source.emitter is not None and source.emitter.spool_full_waits > 0  # noqa: E731
        assert wait_for(paused, timeout=20)
        while received < lines:  # the output: slower than the input, so the spool fills again and again
            batch = spool.read("out", max_records=2000, timeout=5)
            assert batch.count, f"stalled at {received}"
            received += batch.count
            spool.commit(batch)
    finally:
        source.stop()
        spool.close()
    assert received == lines
    assert spool.stats().dropped.get("out", 0) == 0
