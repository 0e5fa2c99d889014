"""The spool on real files: recovery, corruption, cap, block mode, cursors, memory mode."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_agent.errors import ConfigError, SpoolError
from log_agent.models import Chunk, Record
from log_agent.protocol.entries import chunks_from_records
from log_agent.spool import Spool, SpoolConfig, codec

MiB = 1024 * 1024


def records(start: int, count: int, size: int = 100) -> list[Record]:
    return [Record("app.test", 1_700_000_000_000_000_000 + i, {"id": i, "msg": "x" * size})
            for i in range(start, start + count)]


def one_chunk_each(batch: list[Record]) -> list[Chunk]:
    """One chunk per record: tests that damage one record's frame."""
    return [chunk for record in batch for chunk in chunks_from_records([record])]


def frame(record: Record) -> bytes:
    return codec.encode(chunks_from_records([record])[0])


def ids(batch_records: list[Record]) -> list[int]:
    return [record.record["id"] for record in batch_records]


def drain(spool: Spool, reader: str, max_records: int = 1000) -> list[int]:
    seen: list[int] = []
    while True:
        batch = spool.read(reader, max_records=max_records)
        if not batch.records and not batch.corrupt:
            return seen
        seen += ids(batch.records)
        spool.commit(batch)


def open_spool(tmp_path: Path, **overrides: object) -> Spool:
    return Spool(SpoolConfig.from_dict({"dir": str(tmp_path), "max_bytes": "4MiB", **overrides}))


def segment_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "v2" / "segments").glob("*.seg"))


def test_records_survive_reopen_and_cursor_resumes(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.register("out")
        spool.append_chunks(one_chunk_each(records(0, 100)))  # a batch holds whole chunks
        first = spool.read("out", max_records=40)
        spool.commit(first)
        assert ids(first.records) == list(range(40))
    with open_spool(tmp_path) as spool:
        assert drain(spool, "out") == list(range(40, 100))
    with open_spool(tmp_path) as spool:
        assert drain(spool, "out") == []


def test_uncommitted_batch_is_read_again_after_reopen(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append(records(0, 10))
        assert ids(spool.read("out").records) == list(range(10))  # not committed: "crash"
    with open_spool(tmp_path) as spool:
        assert drain(spool, "out") == list(range(10))


def test_torn_tail_is_cut_and_everything_before_it_kept(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append_chunks(one_chunk_each(records(0, 50)))
    segment = segment_files(tmp_path)[-1]
    size = segment.stat().st_size
    with segment.open("r+b") as handle:  # power cut in the middle of the last record
        handle.truncate(size - 30)
    with open_spool(tmp_path) as spool:
        assert spool.torn_bytes_dropped > 0
        assert segment.stat().st_size < size - 30
        assert drain(spool, "out") == list(range(49))
        spool.append(records(100, 5))  # appends go to a fresh segment, after the cut
        assert drain(spool, "out") == list(range(100, 105))


def test_garbage_tail_after_good_records_is_dropped(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append(records(0, 5))
    with segment_files(tmp_path)[-1].open("ab") as handle:
        handle.write(b"\xff" * 37)
    with open_spool(tmp_path) as spool:
        assert spool.torn_bytes_dropped == 37
        assert drain(spool, "out") == list(range(5))


def test_corrupt_record_in_the_middle_is_skipped_and_counted(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append_chunks(one_chunk_each(records(0, 10)))
    segment = segment_files(tmp_path)[-1]
    data = bytearray(segment.read_bytes())
    third = sum(len(frame(record)) for record in records(0, 3))
    data[third + codec.HEADER.size + 5] ^= 0xFF  # flip a payload byte of record 3: CRC mismatch
    segment.write_bytes(bytes(data))
    with open_spool(tmp_path) as spool:
        assert spool.torn_bytes_dropped == 0
        assert drain(spool, "out") == [0, 1, 2, 4, 5, 6, 7, 8, 9]
        assert spool.stats().corrupt == {"out": 1}


def test_corrupt_length_field_resyncs_to_the_next_good_record(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append_chunks(one_chunk_each(records(0, 6)))
    segment = segment_files(tmp_path)[-1]
    data = bytearray(segment.read_bytes())
    second = len(frame(records(0, 1)[0]))
    data[second : second + 4] = b"\x7f\xff\xff\xff"  # record 1 claims to be 2 GiB long
    segment.write_bytes(bytes(data))
    with open_spool(tmp_path) as spool:
        assert drain(spool, "out") == [0, 2, 3, 4, 5]


def test_cap_drops_oldest_with_exact_counters_per_reader(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=MiB) as spool:
        spool.register("fast")
        spool.register("slow")
        appended = 0
        fast_seen: list[int] = []
        for round_ in range(60):
            spool.append(records(round_ * 200, 200))
            appended += 200
            fast_seen += drain(spool, "fast")
        slow_seen = drain(spool, "slow")
        stats = spool.stats()
        assert fast_seen == list(range(appended))
        assert stats.dropped.get("fast", 0) == 0
        assert stats.dropped["slow"] > 0
        assert stats.dropped["slow"] + len(slow_seen) == appended
        assert slow_seen == list(range(appended - len(slow_seen), appended))
        assert stats.total_bytes <= MiB
    on_disk = sum(path.stat().st_size for path in segment_files(tmp_path))
    assert on_disk <= MiB


def commit_records(spool: Spool, reader: str, count: int) -> None:
    committed = 0
    while committed < count:  # a batch ends at a segment's end and holds whole chunks
        batch = spool.read(reader, max_records=count - committed)
        assert batch.records
        spool.commit(batch)
        committed += len(batch.records)
    assert committed == count


def test_backlog_records_counts_what_each_reader_has_not_committed(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes="16KiB") as spool:  # ~120 records per segment
        spool.register("a")
        spool.register("b")
        for start in range(0, 1000, 10):
            spool.append(records(start, 10))  # chunks of 10: batches hold whole chunks
        assert spool.stats().backlog_records == {"a": 1000, "b": 1000}
        for _ in range(3):
            commit_records(spool, "a", 100)  # crosses segment boundaries
        spool.read("b", max_records=50)  # read but not committed: still unsent
        assert spool.stats().backlog_records == {"a": 700, "b": 1000}
        commit_records(spool, "b", 50)
        assert spool.stats().backlog_records == {"a": 700, "b": 950}
    with open_spool(tmp_path, segment_bytes="16KiB") as spool:  # counted again from the saved cursors
        spool.register("a")
        spool.register("b")
        assert spool.stats().backlog_records == {"a": 700, "b": 950}
        assert len(drain(spool, "a")) == 700
        spool.append(records(1000, 10))
        assert spool.stats().backlog_records == {"a": 10, "b": 960}


def test_backlog_records_after_drops_and_corruption_match_what_is_left(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=MiB) as spool:
        spool.register("slow")
        for round_ in range(40):
            spool.append_chunks(one_chunk_each(records(round_ * 200, 200)))
        stats = spool.stats()
        assert stats.dropped["slow"] > 0
        assert stats.backlog_records["slow"] == 40 * 200 - stats.dropped["slow"]
    first = segment_files(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[codec.HEADER.size + 5] ^= 0xFF  # the first record's payload: one corrupt frame
    first.write_bytes(bytes(data))
    with open_spool(tmp_path, max_bytes=MiB) as spool:
        spool.register("slow")
        backlog = spool.stats().backlog_records["slow"]
        assert backlog == len(drain(spool, "slow")) + 1  # the corrupt one is skipped, not sent
        assert spool.stats().backlog_records["slow"] == 0


def test_block_mode_raises_after_timeout_then_accepts_once_read(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=MiB, when_full="block", block_timeout=0.3) as spool:
        spool.register("out")
        written = 0
        with pytest.raises(SpoolError, match="full"):
            for _ in range(100):
                spool.append(records(written, 100))
                written += 100
        assert spool.stats().dropped == {}
        drained: list[int] = []
        unblocked = threading.Event()

        def late_append() -> None:
            spool.append(records(10_000, 100))
            unblocked.set()

        spool.config.block_timeout = 5
        writer = threading.Thread(target=late_append)
        writer.start()
        time.sleep(0.1)
        assert not unblocked.is_set()  # waits for the reader
        drained += drain(spool, "out")
        writer.join(timeout=5)
        assert unblocked.is_set()
        drained += drain(spool, "out")
        assert drained == list(range(written)) + list(range(10_000, 10_100))


def test_readers_at_different_speeds_and_segments_deleted_once_all_passed(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes=16 * 1024) as spool:
        spool.register("fast")
        spool.register("slow")
        for round_ in range(10):
            spool.append(records(round_ * 50, 50))
        assert drain(spool, "fast") == list(range(500))
        segments_before = len(segment_files(tmp_path))
        first = spool.read("slow", max_records=30)
        spool.commit(first)
        assert len(segment_files(tmp_path)) == segments_before  # slow still holds most of them
        assert ids(first.records) + drain(spool, "slow", max_records=7) == list(range(500))
        assert len(segment_files(tmp_path)) == 1  # only the active segment is left
        assert spool.stats().backlog_bytes == {"fast": 0, "slow": 0}


def test_new_reader_starts_at_oldest_and_readers_are_independent(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append(records(0, 20))
        assert drain(spool, "a") == list(range(20))
        assert drain(spool, "b") == list(range(20))


def test_read_waits_for_records_until_timeout(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        started = time.monotonic()
        assert spool.read("out", timeout=0.2).records == []
        assert time.monotonic() - started >= 0.19
        threading.Timer(0.1, spool.append, args=(records(0, 3),)).start()
        assert ids(spool.read("out", timeout=5).records) == [0, 1, 2]


def test_concurrent_writers_share_fsyncs_and_lose_nothing(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        threads = [threading.Thread(target=lambda n=n: [spool.append(records(n * 1000 + k * 10, 10))
                                                        for k in range(20)]) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(drain(spool, "out")) == sorted(n * 1000 + i for n in range(4) for i in range(200))


@pytest.mark.parametrize("fsync", ["always", "interval:50"])
def test_other_fsync_policies_store_the_same_records(tmp_path: Path, fsync: str) -> None:
    with open_spool(tmp_path, fsync=fsync) as spool:
        spool.append(records(0, 5), durable=False)
        spool.append(records(5, 5), durable=True)
        time.sleep(0.1)
    with open_spool(tmp_path) as spool:
        assert drain(spool, "out") == list(range(10))


def test_memory_mode_has_the_same_api_and_cap(tmp_path: Path) -> None:
    with open_spool(tmp_path / "unused", mode="memory", max_bytes=MiB) as spool:
        spool.register("out")
        for round_ in range(20):
            spool.append(records(round_ * 500, 500))
        seen = drain(spool, "out")
        assert spool.stats().dropped["out"] + len(seen) == 10_000
        assert seen[-1] == 9_999
    assert not (tmp_path / "unused").exists()


def test_oversized_batch_is_refused(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=MiB) as spool, pytest.raises(SpoolError, match="does not fit"):
        spool.append(records(0, 1, size=2 * MiB))


def test_batch_larger_than_the_cap_is_stored_in_pieces_while_a_reader_drains(tmp_path: Path) -> None:
    # a 2 MB Forward chunk on a 1 MiB spool: pieces go in while the output reads the first ones
    big = records(0, 2000, size=1000)
    assert sum(map(len, map(frame, big))) > 2 * MiB - 100_000
    with open_spool(tmp_path, max_bytes=MiB, block_timeout=5) as spool:
        spool.register("out")
        seen: list[int] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set() or spool.stats().backlog_records["out"]:
                seen.extend(drain(spool, "out"))
                time.sleep(0.005)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            spool.append(big)
        finally:
            stop.set()
            thread.join(timeout=10)
        assert seen == list(range(2000))
        assert spool.stats().dropped == {}


def test_batch_larger_than_the_cap_never_drops_its_own_pieces(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=MiB, block_timeout=0.3) as spool:
        spool.register("out")
        with pytest.raises(SpoolError, match="did not take its first part"):
            spool.append(records(0, 2000, size=1000))  # nobody reads: the append fails, no ack
        assert spool.stats().dropped == {}
        assert drain(spool, "out")[:5] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("data", "key"), [
    ({"bogus": 1}, "spool.bogus"),
    ({"max_bytes": "lots"}, "spool.max_bytes"),
    ({"max_bytes": 1000}, "spool.max_bytes"),
    ({"fsync": "sometimes"}, "spool.fsync"),
    ({"when_full": "explode"}, "spool.when_full"),
    ({"mode": "cloud"}, "spool.mode"),
])
def test_bad_config_names_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        SpoolConfig.from_dict(data)
    assert error.value.key == key


def test_sizes_parse_with_units() -> None:
    assert SpoolConfig.from_dict({"max_bytes": "2MiB"}).max_bytes == 2 * MiB
    assert SpoolConfig.from_dict({"max_bytes": "1536k"}).max_bytes == 1536 * 1024
    assert SpoolConfig.from_dict({"fsync": "interval:250"}).fsync_interval_s == 0.25


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 192 KiB tmpfs: a disk that really fills up (needs root to mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True, timeout=10)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, timeout=10)


def test_disk_full_fails_the_append_and_recovers_once_space_is_free(tiny_disk: Path) -> None:
    with Spool(SpoolConfig.from_dict({"dir": str(tiny_disk), "max_bytes": "4MiB",
                                      "segment_bytes": "64KiB"})) as spool:
        spool.register("out")
        stored = 0
        with pytest.raises(SpoolError):
            for _ in range(100):
                spool.append(records(stored, 50))
                stored += 50
        assert drain(spool, "out") == list(range(stored))  # the failed batch is not half-visible
        assert spool.stats().corrupt.get("out", 0) <= 1
        spool.append(records(1000, 50))  # space was freed by the reader: appends work again
        assert drain(spool, "out") == list(range(1000, 1050))


FRAMES = [frame(record) for record in records(0, 40, size=30)]
FRAME_ENDS = list(itertools.accumulate(len(frame) for frame in FRAMES))


def reopened_after(damage: Callable[[bytearray], bytes]) -> list[int]:
    with tempfile.TemporaryDirectory() as directory:
        segments = Path(directory) / "v2" / "segments"
        segments.mkdir(parents=True)
        (segments / f"{1:016d}.seg").write_bytes(damage(bytearray(b"".join(FRAMES))))
        with Spool(SpoolConfig.from_dict({"dir": directory})) as spool:
            return drain(spool, "out")


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=FRAME_ENDS[-1]))
def test_any_power_cut_keeps_exactly_the_complete_records(cut: int) -> None:
    complete = sum(1 for end in FRAME_ENDS if end <= cut)
    assert reopened_after(lambda data: bytes(data[:cut])) == list(range(complete))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=FRAME_ENDS[-1] - 1), st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_loses_at_most_its_own_record(position: int, mask: int) -> None:
    def flip(data: bytearray) -> bytes:
        data[position] ^= mask
        return bytes(data)

    damaged = next(index for index, end in enumerate(FRAME_ENDS) if position < end)
    survivors = reopened_after(flip)
    assert set(range(40)) - {damaged} <= set(survivors) <= set(range(40))


def test_counters_add_up_with_many_concurrent_writers_at_the_cap(tmp_path: Path) -> None:
    """in == out + dropped + backlog, exactly, while the cap drops segments under a reader's feet."""
    with open_spool(tmp_path, max_bytes="1MiB", segment_bytes="64KiB", fsync="interval:50") as spool:
        spool.register("out")
        delivered = 0
        writers_done = threading.Event()

        def reader() -> None:
            nonlocal delivered
            while not writers_done.is_set() or spool.stats().backlog_records["out"]:
                batch = spool.read("out", max_records=200, timeout=0.05)
                delivered += len(batch.records)
                spool.commit(batch)

        def writer(n: int) -> None:
            for k in range(60):
                spool.append(records(n * 10_000 + k * 20, 20, size=300), durable=False)

        reading = threading.Thread(target=reader)
        reading.start()
        writers = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=60)
        writers_done.set()
        reading.join(timeout=30)
        stats = spool.stats()
        assert stats.dropped.get("out", 0) > 0  # the cap really was hit
        assert stats.appended_records == delivered + stats.dropped["out"] + stats.backlog_records["out"]


@pytest.mark.parametrize("delivered_before_stop", [False, True])
def test_drop_counters_include_the_batch_in_flight_across_a_restart(tmp_path: Path,
                                                                    delivered_before_stop: bool) -> None:
    """in == out + dropped + backlog over two runs, when the cap drops the segment an output is sending."""
    with open_spool(tmp_path, max_bytes=MiB) as spool:
        spool.register("out")
        spool.append_chunks(one_chunk_each(records(0, 200, size=500)))
        in_flight = spool.read("out", max_records=100)  # handed to the output, not delivered yet
        appended = 200
        while spool.stats().dropped.get("out", 0) == 0:
            spool.append_chunks(one_chunk_each(records(appended, 100, size=500)))
            appended += 100
        for _ in range(3):  # more drops after the first
            spool.append_chunks(one_chunk_each(records(appended, 100, size=500)))
            appended += 100
        delivered = 0
        if delivered_before_stop:
            spool.commit(in_flight)  # delivered after all: not dropped
            delivered = len(in_flight.records)
        first_run = spool.stats().dropped["out"]
    with open_spool(tmp_path, max_bytes=MiB) as spool:
        spool.register("out")  # the restarted worker: what it had in flight and lost is counted now
        stats = spool.stats()
        second_run = stats.dropped.get("out", 0)
        assert second_run == (0 if delivered_before_stop else len(in_flight.records))
        assert appended == delivered + first_run + second_run + stats.backlog_records["out"]
        assert len(drain(spool, "out")) == stats.backlog_records["out"]
