"""files input: lines, long lines, multiline, checkpoints, and the real logrotate (create and
copytruncate) while a writer appends thousands of lines a second."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from log_agent.inputs.file_tail import LineRules, TailedFile
from log_agent.inputs.files import FilesInput, FilesInputConfig

from tests.log_agent.agent_process import wait_for
from tests.log_agent.inputs.input_helpers import ChunkSink

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"


def tail_file(path: Path, offset: int = 0, **rules: object) -> TailedFile:
    values = {"max_line_bytes": 64 * 1024, "multiline_start": None, "multiline_timeout": 1.0,
              "multiline_max_lines": 500, **rules}
    return TailedFile(str(path), os.open(path, os.O_RDONLY), offset, LineRules(**values))


def messages(records: list) -> list:
    return [record["message"] for _, record in records]


def files_input(tmp_path: Path, **options: object) -> FilesInput:
    config = FilesInputConfig.from_dict({"paths": str(tmp_path / "logs" / "*.log"),
                                         "state_dir": str(tmp_path / "state"), **options})
    return FilesInput(config)


# --------------------------------------------------------------------------- one file
def test_lines_and_a_line_still_being_written(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\r\ntwo\nthr")
    tailed = tail_file(path)
    assert messages(tailed.read(1 << 20, 1)) == ["one", "two"]
    assert tailed.committed == 9  # the end of "two\n": a restart does not lose "thr"
    with path.open("ab") as handle:
        handle.write(b"ee\n\xff\xfe\n")
    assert messages(tailed.read(1 << 20, 1)) == ["three", b"\xff\xfe"]
    assert tailed.committed == path.stat().st_size


def test_long_lines_are_split_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 25 + b"\nshort\n")
    records = tail_file(path, max_line_bytes=10).read(1 << 20, 1)
    assert [(r["message"], r.get("split_index"), r.get("split_last")) for _, r in records] == [
        ("x" * 10, 0, False), ("x" * 10, 1, False), ("x" * 5, 2, True), ("short", None, None)]


def test_multiline_by_start_pattern_with_flush_timeout(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("2024-01-01 boom\nTraceback:\n  File x\n2024-01-01 next\n  tail\n")
    tailed = tail_file(path, multiline_start=re.compile(r"^\d{4}-"), multiline_timeout=0.2)
    assert messages(tailed.read(1 << 20, 1)) == ["2024-01-01 boom\nTraceback:\n  File x"]
    assert tailed.committed == len("2024-01-01 boom\nTraceback:\n  File x\n")  # "next" is re-read
    assert tailed.flush_expired(time.monotonic()) == []
    flushed = tailed.flush_expired(time.monotonic() + 1)
    assert messages(flushed) == ["2024-01-01 next\n  tail"]
    assert tailed.committed == path.stat().st_size


def test_a_multiline_record_is_bounded_in_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("START\n" + "  more\n" * 10 + "START again\n")
    tailed = tail_file(path, multiline_start=re.compile("^START"), multiline_max_bytes=30)
    records = messages(tailed.read(1 << 20, 1))
    assert records[0] == "START\n  more\n  more\n  more"  # 5 + 3 x 7 bytes: the next would pass 30
    assert all(len(message) <= 30 for message in records)


# --------------------------------------------------------------------------- the input
def test_start_at_end_then_new_files_from_their_first_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "old.log").write_text("before start\n")
    source, sink = files_input(tmp_path), ChunkSink()
    source.start(sink)
    try:
        time.sleep(0.3)
        with (logs / "old.log").open("a") as handle:
            handle.write("appended\n")
        (logs / "new.log").write_text("new file line\n")
        assert sink.wait_count(2), sink.messages()
    finally:
        source.stop()
    assert sorted(sink.messages()) == ["appended", "new file line"]
    assert {record["path"] for _, _, record in sink.records} == {str(logs / "old.log"),
                                                                 str(logs / "new.log")}


def test_restart_resumes_from_the_checkpoint_and_a_reused_inode_starts_over(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("1\n2\n")
    source, sink = files_input(tmp_path, read_from="head"), ChunkSink()
    source.start(sink)
    assert sink.wait_count(2)
    source.stop()
    state = json.loads((tmp_path / "state" / "files.json").read_text())
    assert [entry["offset"] for entry in state["files"].values()] == [4]
    with (logs / "a.log").open("a") as handle:
        handle.write("3\n")
    again, sink2 = files_input(tmp_path, read_from="head"), ChunkSink()
    again.start(sink2)
    try:
        assert sink2.wait_count(1)
        assert not wait_for(lambda: len(sink2.records) > 1, timeout=0.5)
    finally:
        again.stop()
    assert sink2.messages() == ["3"]
    # Same inode, other content (the checkpoint's fingerprint no longer matches): from the top.
    (logs / "a.log").write_text("X\nY\nZ\n")
    third, sink3 = files_input(tmp_path, read_from="tail"), ChunkSink()
    third.start(sink3)
    try:
        assert sink3.wait_count(3)
    finally:
        third.stop()
    assert sink3.messages() == ["X", "Y", "Z"]


# --------------------------------------------------------------------------- logrotate under load
class Writer(threading.Thread):
    """Appends numbered lines as fast as ~``rate`` per second; reopens the path when it names another
    file (what an app does on SIGHUP after logrotate's create)."""

    def __init__(self, path: Path, rate: int = 4000) -> None:
        super().__init__(daemon=True)
        self.path, self.rate, self.written = path, rate, 0
        self.halt = threading.Event()

    def run(self) -> None:
        handle = self.path.open("a", buffering=1)
        while not self.halt.is_set():
            for _ in range(self.rate // 100):
                handle.write(f"line {self.written:08d} " + "p" * 60 + "\n")
                self.written += 1
            try:
                if os.stat(self.path).st_ino != os.fstat(handle.fileno()).st_ino:
                    handle.close()
                    handle = self.path.open("a", buffering=1)
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        handle.close()


def kept_lines(logs: Path) -> Counter:
    """Every line logrotate kept, in the live file and its rotations."""
    lines: Counter = Counter()
    for path in logs.iterdir():
        lines.update(line for line in path.read_text().splitlines() if line)
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["create", "copytruncate"])
def test_logrotate_while_writing_delivers_every_kept_line_exactly_once(tmp_path: Path, mode: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.log"
    live.touch()
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{live} {{\n  rotate 10\n  {mode}\n  missingok\n  nocompress\n}}\n")
    options = {"paths": str(live), "read_from": "head", "rotate_wait": "1s",
               "state_dir": str(tmp_path / "state")}
    source = FilesInput(FilesInputConfig.from_dict(options))
    sink = ChunkSink()
    source.start(sink)
    writer = Writer(live)
    writer.start()
    try:
        for _ in range(3):
            time.sleep(0.7)
            subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "status"), str(conf)], check=True,
                           capture_output=True, timeout=30)
        time.sleep(0.5)
    finally:
        writer.halt.set()
        writer.join()
    expected = kept_lines(logs)
    try:
        assert wait_for(lambda: set(sink.messages()) >= set(expected), timeout=15), \
            f"missing {len(set(expected) - set(sink.messages()))} of {len(expected)}"
        time.sleep(0.3)
    finally:
        source.stop()
    delivered = Counter(sink.messages())
    assert writer.written > 4000
    assert max(delivered.values()) == 1, "a line was delivered twice"
    # Also lines written after logrotate's copy that we read before its truncate: in no file now.
    assert set(delivered) >= set(expected)
    assert all(line.startswith("line ") for line in delivered)
    if mode == "create":
        assert len(delivered) == len(expected) == writer.written  # rename and create loses nothing
    else:  # copytruncate: only what the writer appended between the copy and the truncate (at
        # ~4,000 lines/s, 1,000 lines is a 250 ms window per rotation: a loaded machine's scheduling)
        assert len(delivered) >= writer.written - 3 * 1000, (len(delivered), writer.written)


# --------------------------------------------------------------------------- SIGKILL
_CHILD = """
import os, sys, time, msgpack
from log_agent.inputs.files import FilesInput, FilesInputConfig
out = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
def sink(tag, entries, count, *, durable):
    unpacker = msgpack.Unpacker(raw=False); unpacker.feed(entries)
    os.write(out, "".join(record["message"] + "\\n" for _, record in unpacker).encode())
    os.fsync(out)
source = FilesInput(FilesInputConfig.from_dict({"paths": sys.argv[1], "read_from": "head",
                                                "state_dir": sys.argv[3]}))
source.start(sink)
time.sleep(3600)
"""


@pytest.mark.slow
def test_sigkill_loses_nothing_across_restarts(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.log"
    live.touch()
    spooled = tmp_path / "spooled.txt"
    writer = Writer(live, rate=3000)
    writer.start()
    command = [sys.executable, "-c", _CHILD, str(live), str(spooled), str(tmp_path / "state")]
    try:
        for _ in range(3):
            child = subprocess.Popen(command)
            time.sleep(1.0)
            child.kill()
            child.wait()
    finally:
        writer.halt.set()
        writer.join()
    child = subprocess.Popen(command)
    try:
        expected = {line for line in live.read_text().splitlines() if line}
        assert wait_for(lambda: expected <= set(spooled.read_text().splitlines()), timeout=20)
    finally:
        child.kill()
        child.wait()
    delivered = spooled.read_text().splitlines()
    assert len(expected) == writer.written
    assert set(delivered) == expected  # at least once; duplicates only from the unsaved tail


def test_a_directory_that_appears_later_is_found(tmp_path: Path) -> None:
    source, sink = files_input(tmp_path, scan_interval="200ms"), ChunkSink()  # logs/ does not exist yet
    source.start(sink)
    try:
        time.sleep(0.3)
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "late.log").write_text("late line\n")
        assert sink.wait_count(1, timeout=5), sink.messages()
    finally:
        source.stop()
    assert sink.messages() == ["late line"]


def test_without_inotify_it_polls(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    source, sink = files_input(tmp_path, poll_interval="50ms", read_from="head"), ChunkSink()
    source._inotify.close()  # as where the kernel or libc offers no inotify
    assert not source._inotify.available
    source.start(sink)
    try:
        (tmp_path / "logs" / "a.log").write_text("polled\n")
        assert sink.wait_count(1, timeout=15), sink.messages()  # found at the next scan
        with (tmp_path / "logs" / "a.log").open("a") as handle:
            handle.write("again\n")
        assert sink.wait_count(2, timeout=5)
    finally:
        source.stop()
    assert sink.messages() == ["polled", "again"]


def test_a_file_rotated_while_the_agent_was_down_is_read_to_its_end(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.log"
    live.write_text("a1\na2\n")
    options = {"paths": str(live), "read_from": "head", "state_dir": str(tmp_path / "state")}
    source, sink = FilesInput(FilesInputConfig.from_dict(options)), ChunkSink()
    source.start(sink)
    assert sink.wait_count(2)
    source.stop()
    with live.open("a") as handle:  # written after the stop, then rotated away (rename and create)
        handle.write("a3\n")
    live.rename(logs / "app.log.1")
    live.write_text("b1\n")
    again, sink2 = FilesInput(FilesInputConfig.from_dict(options)), ChunkSink()
    again.start(sink2)
    try:
        assert sink2.wait_count(2)
        assert not wait_for(lambda: len(sink2.records) > 2, timeout=0.5)
    finally:
        again.stop()
    assert sorted(sink2.messages()) == ["a3", "b1"]
