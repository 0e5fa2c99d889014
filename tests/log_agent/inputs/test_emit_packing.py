"""The record-building inputs' path into the spool (inputs/emit.py, sink.store_packed) and the spool
reader's window over chunks larger than it (spool/reading.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from log_agent.budget import MemoryBudget
from log_agent.inputs.emit import Emitter, pack_chunks
from log_agent.processors import Chain
from log_agent.protocol.encode import event_stream
from log_agent.protocol.entries import decode_chunk
from log_agent.sink import SpoolSink
from log_agent.spool import Spool, SpoolConfig

T = 1_700_000_000_123_456_789


def records(count: int, size: int = 80, same_time: bool = False) -> list[tuple[int, dict]]:
    return [(T if same_time else T + i * 7, {"message": f"line {i:06d} " + "x" * size, "raw": b"\xff"})
            for i in range(count)]


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 15, 16, 17, 100, 5000])
@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 20])
def test_packed_chunks_are_the_entries_cut_near_the_chunk_size(count: int, chunk_bytes: int) -> None:
    given = records(count)
    chunks = list(pack_chunks(given, chunk_bytes))
    assert b"".join(entries for entries, _ in chunks) == event_stream(given)
    assert sum(n for _, n in chunks) == count
    entry_bytes = len(event_stream(given[:1]))
    # a chunk passes the size by less than a group of entries sized from the ones before (the
    # first group is 4 entries)
    assert all(len(entries) < max(chunk_bytes, 4 * entry_bytes) * 2 for entries, _ in chunks[:-1])


def test_large_records_do_not_make_a_huge_first_chunk() -> None:
    big = [(T, {"m": "y" * 300_000}) for _ in range(20)]
    assert max(len(entries) for entries, _ in pack_chunks(big)) < 1_300_000


@pytest.fixture
def spool(tmp_path: Path):
    with Spool(SpoolConfig.from_dict({"dir": str(tmp_path), "max_bytes": "64MiB"})) as opened:
        opened.register("out")
        yield opened


def test_emitted_chunks_stored_unwalked_read_back_through_a_small_window(spool: Spool) -> None:
    emitter = Emitter(SpoolSink(spool, MemoryBudget(), "files", None), Chain(()), threading.Event(), "files")
    given = records(30_000, same_time=True)  # several chunks of about 1 MiB
    assert emitter.emit("file", given) == 30_000 and emitter.records_out == 30_000
    got = []
    while True:
        batch = spool.read("out", max_records=100, max_bytes=4096)  # much smaller than a chunk
        if not batch.chunks:
            break
        assert batch.corrupt == 0
        got.extend(record for chunk in batch.chunks for record in decode_chunk(chunk).records)
        spool.commit(batch)
    assert [(r.time_ns, r.record) for r in got] == given
