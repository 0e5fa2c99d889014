"""stdout output: JSON lines on the process's real stdout/stderr file descriptors."""

from __future__ import annotations

import json

import pytest
from log_agent.models import Outcome
from log_agent.outputs import output_from_url

from tests.log_agent.outputs.sample_records import T0_TEXT, make_records


def test_stdout_writes_one_json_line_per_record(capfd: pytest.CaptureFixture[str]) -> None:
    output = output_from_url("stdout:")
    assert output.send(make_records(2)).outcome is Outcome.DELIVERED
    out, err = capfd.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"time": T0_TEXT, "tag": "app.web", "record": {"message": "line 0", "seq": 0}}
    assert len(lines) == 2 and err == ""
    assert output.healthcheck() is True


def test_stderr_scheme_writes_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    output_from_url("stderr:").send(make_records(1))
    out, err = capfd.readouterr()
    assert out == "" and json.loads(err)["record"]["seq"] == 0
