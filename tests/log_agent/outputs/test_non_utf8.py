"""A record whose map key is not UTF-8 (msgpack bin 0xff, and a str holding 0xff) reaches every output
of the real agent and the dead-letter file, and never stops shipping (outputs/encoding.py scheme:
non-UTF-8 str bytes as \\udcXX escapes, bin keys the same, bin values {"base64": ...})."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

from tests.log_agent.agent_process import AgentProcess, await_ack, wait_for
from tests.log_agent.http_receiver import HttpReceiver, Reply

# {bin ff: 1, str(c3 28): "v", "bin": bin fe fe, "message": "after"}: what no JSON encoder took before
RECORD = b"\x84" + b"\xc4\x01\xff\x01" + b"\xa2\xc3\x28\xa1v" + b"\xa3bin\xc4\x02\xfe\xfe" + msgpack.packb(
    "message") + msgpack.packb("odd")
EXPECTED_JSON = {"\udcff": 1, "\udcc3(": "v", "bin": {"base64": base64.b64encode(b"\xfe\xfe").decode()},
                 "message": "odd"}


class RawForwardReceiver:
    """Acks PackedForward chunks and keeps records with keys as raw bytes (no UTF-8 assumed)."""

    def __init__(self) -> None:
        self.records: list[dict[Any, Any]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        unpacker = msgpack.Unpacker(raw=True, strict_map_key=False)
        with conn:
            while data := conn.recv(65536):
                unpacker.feed(data)
                for _tag, stream, option in unpacker:
                    entries = msgpack.Unpacker(raw=True, strict_map_key=False)
                    entries.feed(stream)
                    self.records.extend(record for _, record in entries)
                    conn.sendall(msgpack.packb({"ack": option[b"chunk"].decode()}))

    def close(self) -> None:
        self._listener.close()


def send_frames(port: int, tag: str) -> None:
    """One record with the odd keys, then a normal one, each acked (so each is durably spooled)."""
    for body in (RECORD, msgpack.packb({"message": "after"})):
        chunk = base64.b64encode(os.urandom(16)).decode()
        frame = (b"\x94" + msgpack.packb(tag) + msgpack.packb(1_764_277_200) + body
                 + msgpack.packb({"chunk": chunk}))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(frame)
            assert await_ack(conn, chunk)


def config(tmp_path: Path, http: HttpReceiver, loki: HttpReceiver, search: HttpReceiver,
           reject: HttpReceiver, forward: RawForwardReceiver) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(f"""
retry: {{initial_backoff: 20ms, max_backoff: 100ms, max_attempts: 3}}
outputs:
  - {{name: out-stdout, url: "stdout:"}}
  - {{name: out-file, url: "file://{tmp_path}/out.jsonl"}}
  - {{name: out-http, url: "{http.url}/ingest", format: ndjson}}
  - {{name: out-loki, url: "loki+{loki.url}"}}
  - {{name: out-es, url: "es+{search.url}/logs"}}
  - {{name: out-forward, url: "forward://127.0.0.1:{forward.port}"}}
  - {{name: out-reject, url: "{reject.url}/reject"}}
""")
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_non_utf8_key_reaches_every_output_and_the_dead_letter(tmp_path: Path) -> None:
    forward = RawForwardReceiver()
    with HttpReceiver() as http, HttpReceiver() as loki, HttpReceiver() as search, HttpReceiver() as reject:
        search.default = lambda request: Reply(200, json.dumps({"errors": False, "items": [
            {"create": {"status": 201}} for _ in request.ndjson()[1::2]]}).encode())
        reject.default = Reply(400, b"no")
        agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config(tmp_path, http, loki, search,
                                                                         reject, forward))})
        try:
            agent.start()
            send_frames(agent.forward_port, "app.odd")
            dead_letter = tmp_path / "spool" / "dead-letter.jsonl"
            assert wait_for(lambda: len(lines(dead_letter)) == 2, timeout=20)
            assert wait_for(lambda: len(forward.records) == 2, timeout=20)
            for receiver in (http, loki, search):
                assert wait_for(lambda receiver=receiver: receiver.requests, timeout=20)
            assert wait_for(lambda: len(lines(tmp_path / "out.jsonl")) == 2, timeout=20)
            time.sleep(0.5)
            outs = {name: agent.metric("log_agent_records_out_total", output=name)
                    for name in ("out-stdout", "out-file", "out-http", "out-loki", "out-es", "out-forward")}
            dead = agent.metric("log_agent_records_dead_lettered_total", output="out-reject")
            assert agent.terminate() == 0
        finally:
            agent.cleanup()
            forward.close()
    assert outs == dict.fromkeys(outs, 2.0) and dead == 2.0  # both records, everywhere: nothing stuck

    def odd_first(records: list[dict[str, Any]]) -> dict[str, Any]:
        return next(r for r in records if r.get("message") == "odd")

    stdout = [json.loads(line) for line in agent.stdout().splitlines() if line.startswith("{")]
    file_lines = lines(tmp_path / "out.jsonl")
    http_lines = [item for request in http.requests for item in request.ndjson()]
    for envelopes in (stdout, file_lines, http_lines):
        record = odd_first([e["record"] for e in envelopes])
        assert {k: v for k, v in record.items() if k != "device"} == EXPECTED_JSON
    loki_lines = [json.loads(value[1]) for request in loki.requests
                  for stream in request.json()["streams"] for value in stream["values"]]
    assert {k: v for k, v in odd_first(loki_lines).items() if k != "device"} == EXPECTED_JSON
    documents = [doc for request in search.requests for doc in request.ndjson()[1::2]]
    assert EXPECTED_JSON.items() <= odd_first(documents).items()
    assert b"\xc3\x28" in {key for r in forward.records for key in r}  # relayed byte for byte
    assert odd_first([e["record"] for e in lines(tmp_path / "spool" / "dead-letter.jsonl")]).items() \
        >= EXPECTED_JSON.items()
    assert "\udcff".encode("utf-8", "surrogateescape") == b"\xff"  # the scheme gives the bytes back
