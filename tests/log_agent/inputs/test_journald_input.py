"""journald input against real journal files (systemd-journal-remote) read by the real journalctl."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from log_agent.errors import ConfigError
from log_agent.inputs.journal_fields import EntryFilter, own_container_id, partial_piece, to_record
from log_agent.inputs.journald import JournaldInput, JournaldInputConfig

from tests.log_agent.agent_process import wait_for
from tests.log_agent.inputs.input_helpers import (
    JOURNAL_REMOTE,
    ChunkSink,
    container_entry,
    unit_entry,
    write_journal,
)

pytestmark = pytest.mark.skipif(not (os.path.exists(JOURNAL_REMOTE) and shutil.which("journalctl")),
                                reason="needs journalctl and systemd-journal-remote")


def journald(tmp_path: Path, **options: object) -> JournaldInput:
    config = JournaldInputConfig.from_dict({"path": str(tmp_path / "journal"), "read_from": "head",
                                            "state_dir": str(tmp_path / "state"), **options})
    return JournaldInput(config)


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    (tmp_path / "journal").mkdir()
    return tmp_path / "journal"


def run_until(sink: ChunkSink, count: int, source: JournaldInput) -> None:
    assert sink.wait_count(count), f"got {sink.messages()}"


def read_all(tmp_path: Path, count: int, **options: object) -> tuple[JournaldInput, ChunkSink]:
    """Start an input, wait for ``count`` records, stop it."""
    source, sink = journald(tmp_path, **options), ChunkSink()
    source.start(sink)
    try:
        run_until(sink, count, source)
    finally:
        source.stop()
    return source, sink


# --------------------------------------------------------------------------- pure mapping
@pytest.mark.parametrize("entry, expected", [
    ({"MESSAGE": "hello", "CONTAINER_NAME": "main_1_2_abc123", "CONTAINER_ID_FULL": "f" * 64,
      "IMAGE_NAME": "img", "PRIORITY": "3", "__REALTIME_TIMESTAMP": "1700000000123456"},
     (1700000000123456000, {"message": "hello", "container_name": "main_1_2_abc123", "service": "main",
                            "container_id": "f" * 64, "image": "img", "stream": "stderr",
                            "level": "error"})),
    ({"MESSAGE": [104, 105], "CONTAINER_NAME": "web", "PRIORITY": "6"},
     (0, {"message": "hi", "container_name": "web", "service": "web", "stream": "stdout",
          "level": "info"})),
    ({"MESSAGE": [255, 0, 10], "_SYSTEMD_UNIT": "x.service", "SYSLOG_IDENTIFIER": "x", "PRIORITY": "4"},
     (0, {"message": b"\xff\x00\n", "unit": "x.service", "syslog_identifier": "x", "service": "x",
          "level": "warning"})),
    ({"MESSAGE": ["first", "second"], "_COMM": "sh"}, (0, {"message": "first", "service": "sh"})),
])
def test_journal_fields_map_to_record_fields(entry: dict, expected: tuple) -> None:
    assert to_record(entry) == expected


@pytest.mark.parametrize("entry, expected", [
    ({"MESSAGE": "a"}, None),
    ({"CONTAINER_ID": "c", "CONTAINER_PARTIAL_ID": "p", "CONTAINER_PARTIAL_ORDINAL": "2",
      "CONTAINER_PARTIAL_MESSAGE": "true", "CONTAINER_PARTIAL_LAST": "false"}, (("c", "p"), 2, False)),
    ({"CONTAINER_ID": "c", "CONTAINER_PARTIAL_ID": "p", "CONTAINER_PARTIAL_ORDINAL": "3",
      "CONTAINER_PARTIAL_LAST": "false"}, (("c", "p"), 3, True)),  # "LAST is always false" engines
    ({"CONTAINER_ID": "c", "CONTAINER_PARTIAL_MESSAGE": "true"}, (("c", None), 0, False)),
])
def test_partial_pieces_are_recognised(entry: dict, expected: object) -> None:
    assert partial_piece(entry) == expected


def test_filter_includes_and_excludes_units_and_containers() -> None:
    only_apps = EntryFilter(include_units=["balena.service"], exclude_containers=["balena_supervisor"])
    assert only_apps.passes({"_SYSTEMD_UNIT": "balena.service", "CONTAINER_NAME": "main_1_2"})
    assert not only_apps.passes({"_SYSTEMD_UNIT": "balena.service", "CONTAINER_NAME": "balena_supervisor"})
    assert not only_apps.passes({"_SYSTEMD_UNIT": "NetworkManager.service"})
    by_service = EntryFilter(include_containers=["main"])
    assert by_service.passes({"CONTAINER_NAME": "main_4_5_abcdef"})
    assert not by_service.passes({"CONTAINER_NAME": "other_4_5"})


# --------------------------------------------------------------------------- real journal files
def test_balena_container_lines_arrive_mapped(tmp_path: Path, journal_dir: Path) -> None:
    write_journal(journal_dir / "system.journal", [
        container_entry("plain line"),
        container_entry(b"\xffbinary\x00", priority="3"),
        container_entry("caf\u00e9 utf-8"),
        unit_entry("host service line"),
    ])
    _, sink = read_all(tmp_path, 4)
    tag, time_ns, first = sink.records[0]
    assert tag == "journal" and time_ns == 1_700_000_000_000_007_000
    assert first["service"] == "main" and first["stream"] == "stdout"
    assert first["container_id"] == "c0ffee123456" + "0" * 52
    assert sink.messages() == ["plain line", b"\xffbinary\x00", "caf\u00e9 utf-8", "host service line"]
    assert sink.records[1][2]["stream"] == "stderr"
    assert all(durable for _, _, durable in sink.calls)


def test_split_lines_are_joined(tmp_path: Path, journal_dir: Path) -> None:
    piece = {"CONTAINER_PARTIAL_ID": "p1"}
    write_journal(journal_dir / "system.journal", [
        container_entry("A" * 10, **piece, CONTAINER_PARTIAL_ORDINAL="1", CONTAINER_PARTIAL_MESSAGE="true",
                        CONTAINER_PARTIAL_LAST="false"),
        container_entry("other container", name="web_1_1", CONTAINER_ID_FULL="e" * 64),
        container_entry("B" * 10, **piece, CONTAINER_PARTIAL_ORDINAL="2", CONTAINER_PARTIAL_MESSAGE="true",
                        CONTAINER_PARTIAL_LAST="false"),
        container_entry("C", **piece, CONTAINER_PARTIAL_ORDINAL="3", CONTAINER_PARTIAL_LAST="true"),
        container_entry("after"),
    ])
    _, sink = read_all(tmp_path, 3)
    assert sink.messages() == ["other container", "A" * 10 + "B" * 10 + "C", "after"]
    assert "partial_incomplete" not in sink.records[1][2]


def test_restart_resumes_exactly_after_the_last_spooled_entry(tmp_path: Path, journal_dir: Path) -> None:
    journal = journal_dir / "system.journal"
    write_journal(journal, [container_entry(f"line {i}") for i in range(5)])
    source, sink = journald(tmp_path), ChunkSink()
    source.start(sink)
    run_until(sink, 5, source)
    source.stop()
    write_journal(journal, [container_entry(f"line {i}") for i in range(5, 8)], start=5)
    again, sink2 = journald(tmp_path), ChunkSink()
    again.start(sink2)
    try:
        run_until(sink2, 3, again)
        assert not wait_for(lambda: len(sink2.records) > 3, timeout=1.0)
    finally:
        again.stop()
    assert sink2.messages() == ["line 5", "line 6", "line 7"]
    assert again.stats.gaps_total == 0


def test_spool_failure_keeps_the_checkpoint_and_retries(tmp_path: Path, journal_dir: Path) -> None:
    write_journal(journal_dir / "system.journal", [container_entry("kept")])
    source, sink = journald(tmp_path), ChunkSink()
    sink.fail = True
    source.start(sink)
    try:
        assert wait_for(lambda: source.emitter.spool_errors_total >= 1)
        assert not (tmp_path / "state" / "journald.json").exists()
        sink.fail = False
        run_until(sink, 1, source)
    finally:
        source.stop()
    assert sink.messages() == ["kept"]


def test_filters_matching_nothing_still_advance_the_cursor_without_writes_at_rest(
        tmp_path: Path, journal_dir: Path) -> None:
    journal = journal_dir / "system.journal"
    write_journal(journal, [unit_entry(f"host {i}") for i in range(50)])
    source = journald(tmp_path, include_units="balena.service", checkpoint_interval="200ms")
    sink = ChunkSink()
    checkpoint = tmp_path / "state" / "journald.json"
    source.start(sink)
    try:
        assert wait_for(checkpoint.exists, timeout=5)
        assert wait_for(lambda: source.stats.entries_total == 50)
        assert wait_for(lambda: source.checkpoint.writes_total >= 1)
        writes = source.checkpoint.writes_total
        assert not wait_for(lambda: source.checkpoint.writes_total > writes, timeout=1.0)  # at rest
    finally:
        source.stop()
    assert sink.records == [] and source.stats.filtered_total == 50
    saved = json.loads(checkpoint.read_text())["cursor"]
    assert ";i=32;" in saved  # the 50th entry (hex seqnum)
    write_journal(journal, [container_entry("app line")], start=50)
    again, _ = read_all(tmp_path, 1, include_units="balena.service")
    assert again.stats.entries_total == 1  # nothing re-read


def test_rotation_and_vacuum_while_running_and_a_vacuumed_cursor(tmp_path: Path, journal_dir: Path) -> None:
    write_journal(journal_dir / "system@1.journal", [container_entry(f"old {i}") for i in range(3)])
    source, sink = journald(tmp_path), ChunkSink()
    source.start(sink)
    try:
        run_until(sink, 3, source)
        # rotation: journald starts a new file; vacuum: the oldest file is deleted
        write_journal(journal_dir / "system@2.journal", [container_entry(f"new {i}") for i in range(3)],
                      start=3)
        run_until(sink, 6, source)
        (journal_dir / "system@1.journal").unlink()
        write_journal(journal_dir / "system@2.journal", [container_entry("after vacuum")], start=6)
        run_until(sink, 7, source)
    finally:
        source.stop()
    assert sink.messages()[3:] == ["new 0", "new 1", "new 2", "after vacuum"]
    # While stopped, the file holding the saved cursor is vacuumed: resume at the oldest entry left.
    write_journal(journal_dir / "system@3.journal", [container_entry(f"third {i}") for i in range(2)],
                  start=7)
    (journal_dir / "system@2.journal").unlink()
    again, sink2 = read_all(tmp_path, 2)
    assert sink2.messages() == ["third 0", "third 1"]
    assert again.stats.gaps_total == 1


def test_a_cursor_the_journal_refuses_restarts_from_the_oldest(tmp_path: Path, journal_dir: Path) -> None:
    write_journal(journal_dir / "system.journal", [container_entry("only")])
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "journald.json").write_text(json.dumps({"cursor": "garbage"}))
    source, sink = read_all(tmp_path, 1, read_from="tail")
    assert sink.messages() == ["only"] and source.stats.gaps_total == 1


def test_missing_journal_path_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        JournaldInputConfig.from_dict({"path": str(tmp_path / "nope")})
    assert caught.value.key == "journald.path"


def test_first_start_at_the_tail_saves_the_end_at_once(tmp_path: Path, journal_dir: Path) -> None:
    journal = journal_dir / "system.journal"
    write_journal(journal, [container_entry("old")])
    source, sink = journald(tmp_path, read_from="tail"), ChunkSink()
    source.start(sink)
    try:
        assert wait_for((tmp_path / "state" / "journald.json").exists)  # before any new entry
        write_journal(journal, [container_entry("new")], start=1)
        run_until(sink, 1, source)
    finally:
        source.stop()
    assert sink.messages() == ["new"]


def test_first_start_at_the_tail_of_an_empty_journal_reads_what_comes(tmp_path: Path,
                                                                       journal_dir: Path) -> None:
    source, sink = journald(tmp_path, read_from="tail"), ChunkSink()
    source.start(sink)
    try:
        wait_for(lambda: source._child is not None)
        write_journal(journal_dir / "system.journal", [container_entry("first ever")])
        run_until(sink, 1, source)
    finally:
        source.stop()
    assert sink.messages() == ["first ever"]


def test_extra_fields_are_asked_for_and_copied() -> None:
    config = JournaldInputConfig.from_dict({"path": "/", "extra_fields": "_SYSTEMD_SLICE,CODE_FILE"})
    fields = next(arg for arg in config.command(None) if arg.startswith("--output-fields="))
    assert "_SYSTEMD_SLICE" in fields and "CONTAINER_NAME" in fields and "MESSAGE" in fields
    _, record = to_record({"MESSAGE": "m", "_SYSTEMD_SLICE": "system.slice"}, config.extra_fields)
    assert record["systemd_slice"] == "system.slice" and "code_file" not in record
    with pytest.raises(ConfigError):
        JournaldInputConfig.from_dict({"path": "/", "extra_fields": ["lower"]})


def test_own_container_is_found_in_mountinfo() -> None:
    own = "ab" * 32
    mountinfo = (f"612 598 0:52 /var/lib/balena-engine/containers/{own}/resolv.conf /etc/resolv.conf rw\n"
                 "613 598 8:2 / /data rw\n")
    assert own_container_id(mountinfo) == own
    assert own_container_id("613 598 8:2 / /data rw\n") is None


def test_the_agents_own_container_is_skipped(tmp_path: Path, journal_dir: Path) -> None:
    own = "ab" * 32
    write_journal(journal_dir / "system.journal", [
        container_entry("my own stdout", name="log-agent_1_1", CONTAINER_ID_FULL=own),
        container_entry("the app"),
    ])
    source, sink = journald(tmp_path), ChunkSink()
    source._own_container = own
    source.start(sink)
    try:
        run_until(sink, 1, source)
        assert wait_for(lambda: source.stats.entries_total == 2)
    finally:
        source.stop()
    assert sink.messages() == ["the app"]


def test_an_entry_over_max_entry_bytes_is_skipped_and_counted(tmp_path: Path, journal_dir: Path) -> None:
    write_journal(journal_dir / "system.journal", [container_entry("before"),
                                                   container_entry("x" * 300_000),
                                                   container_entry("after")])
    source, sink = read_all(tmp_path, 2, max_entry_bytes="64KiB")
    assert sink.messages() == ["before", "after"]
    assert source.stats.errors == {"too_large": 1}
