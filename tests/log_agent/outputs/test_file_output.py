"""file output on a real filesystem: JSON lines, size rotation with keep N, reopen after external moves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from log_agent.errors import ConfigError
from log_agent.models import Outcome
from log_agent.outputs.file import FileOutput, FileOutputConfig

from tests.log_agent.outputs.sample_records import T0_TEXT, make_records


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_are_appended_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    output = FileOutput(FileOutputConfig.from_url(f"file://{path}"))
    assert output.send(make_records(2)).outcome is Outcome.DELIVERED
    assert output.send(make_records(1, tag="later")).outcome is Outcome.DELIVERED
    output.close()
    lines = read_lines(path)
    assert lines[0] == {"time": T0_TEXT, "tag": "app.web", "record": {"message": "line 0", "seq": 0}}
    assert [line["tag"] for line in lines] == ["app.web", "app.web", "later"]


def test_rotation_by_size_keeps_n_files_and_never_splits_a_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    output = FileOutput(FileOutputConfig.from_url(f"file://{path}?max_bytes=1KiB&keep=2&fsync=never"))
    for start in range(0, 100, 10):
        records = make_records(10)
        for i, record in enumerate(records):
            record.record["seq"] = start + i
        assert output.send(records).outcome is Outcome.DELIVERED
    output.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.1", "out.jsonl.2"]
    kept = [path.with_name("out.jsonl.2"), path.with_name("out.jsonl.1"), path]
    assert all(p.stat().st_size <= 1024 for p in kept)
    seqs = [line["record"]["seq"] for p in kept for line in read_lines(p)]
    assert seqs == list(range(seqs[0], 100))  # the newest records, in order, none torn


def test_keep_zero_truncates_instead_of_keeping_old_files(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    output = FileOutput(FileOutputConfig.from_dict({"path": str(path), "max_bytes": 300, "keep": 0}))
    for _ in range(5):
        output.send(make_records(2))
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    assert path.stat().st_size <= 300


def test_a_file_moved_away_by_logrotate_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    output = FileOutput(FileOutputConfig.from_dict({"path": str(path)}))
    output.send(make_records(1))
    os.rename(path, tmp_path / "moved.jsonl")
    output.send(make_records(1, tag="after"))
    assert [line["tag"] for line in read_lines(path)] == ["after"]


def test_unwritable_path_is_retried_not_raised(tmp_path: Path) -> None:
    output = FileOutput(FileOutputConfig.from_dict({"path": str(tmp_path / "missing-dir" / "out.jsonl")}))
    result = output.send(make_records(1))
    assert result.outcome is Outcome.RETRY
    assert "missing-dir" in result.reason
    assert output.healthcheck() is False
    (tmp_path / "missing-dir").mkdir()
    assert output.send(make_records(1)).outcome is Outcome.DELIVERED


def test_file_url_needs_three_slashes() -> None:
    with pytest.raises(ConfigError, match="three slashes"):
        FileOutputConfig.from_url("file://var/log/x.jsonl")
