"""Fuzzing the Forward decoder and server with hypothesis: random bytes, wrong types, truncated,
oversized and gzip-bomb frames -> no crash (only ProtocolError / a closed connection with a reason),
and memory that stays flat."""

from __future__ import annotations

import contextlib
import gzip
import socket
import tracemalloc
from collections.abc import Iterator

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from log_agent.errors import ProtocolError
from log_agent.inputs.forward import ForwardInput
from log_agent.inputs.forward_frames import inflate
from log_agent.protocol import Limits, packed_forward

from tests.log_agent.inputs.forward_helpers import RecordingSink, forward_input, read_reply
from tests.log_agent.protocol.frames import Decoder, EventBatch, KeepAlive

LIMITS = Limits(max_frame_bytes=64 * 1024, max_decompressed_bytes=256 * 1024)
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CHUNK = "p8n9gmxTQVC8/nh2wlKKeQ=="
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=12))
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
# shapes close to real requests, so the fuzzer reaches past the first type check
near_requests = st.lists(values, min_size=0, max_size=5) | st.tuples(
    st.text(min_size=1), values, values, values
)



def nested_record(levels: int, with_arrays: bool) -> bytes:
    """A record ``levels`` maps deep (arrays in between), as raw msgpack: packb stops at 512."""
    level = b"\x81\xa1k" + (b"\x91" if with_arrays else b"")
    return level * levels + b"\xc0"


# Message-mode frames with records nested up to past msgpack's own limit (1024)
deeply_nested_frames = st.builds(
    lambda levels, arrays: b"\x93\xa3app\x01" + nested_record(levels, arrays),
    st.integers(1, 1500), st.booleans())


def decode(data: bytes) -> list[object]:
    """Decode everything; ProtocolError is the only acceptable failure."""
    try:
        return list(Decoder(LIMITS).requests(data))
    except ProtocolError:
        return []


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    for request in decode(data):
        assert isinstance(request, EventBatch | KeepAlive)


@FUZZ
@given(near_requests)
def test_wrong_types_only_raise_protocol_error(frame: object) -> None:
    for request in decode(msgpack.packb(frame, use_bin_type=True)):
        if isinstance(request, EventBatch):
            assert isinstance(request.tag, str)
            assert all(isinstance(r, dict) and 0 <= t < 2**64 for t, r in request.entries)  # EventTime range


@settings(FUZZ, max_examples=60)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), int64, max_size=3), min_size=1, max_size=4),
    st.data(),
)
def test_truncated_frames_wait_for_the_rest(records: list[dict], data: st.DataObject) -> None:
    frame = packed_forward("app", [(1_700_000_000 * 10**9, r) for r in records], chunk=CHUNK, compress=True)
    cut = data.draw(st.integers(0, len(frame) - 1))
    decoder = Decoder(LIMITS)
    assert list(decoder.requests(frame[:cut])) == []  # a prefix is never a request
    (batch,) = decoder.requests(frame[cut:])
    assert isinstance(batch, EventBatch) and [r for _, r in batch.entries] == records


@FUZZ
@given(deeply_nested_frames)
def test_deep_nesting_is_decoded_or_a_protocol_error(frame: bytes) -> None:
    for request in decode(frame):
        assert isinstance(request, EventBatch)


@FUZZ
@given(st.binary(max_size=256))
def test_random_gzip_input_is_a_protocol_error_or_bytes(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        assert sum(len(piece) for piece, _ in inflate(data, 1024, 256)) <= 1024


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ForwardInput, RecordingSink]]:
    sink = RecordingSink()
    settings = {
        "max_frame_bytes": LIMITS.max_frame_bytes,
        "max_decompressed_bytes": LIMITS.max_decompressed_bytes,
    }
    with forward_input(sink, heartbeat=False, **settings) as server:
        yield server, sink


def send_raw(server: ForwardInput, payload: bytes) -> None:
    """Send bytes, then close; the server may already have closed on us (that is fine)."""
    assert server.address is not None
    with socket.create_connection(server.address, timeout=5) as conn:
        try:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            read_reply(conn, timeout=5)  # returns once the server closes the connection
        except OSError:
            pass


def assert_alive(server: ForwardInput) -> None:
    assert server.address is not None
    with socket.create_connection(server.address, timeout=5) as conn:
        conn.sendall(msgpack.packb(["alive", 1, {"ok": True}, {"chunk": CHUNK}]))
        assert read_reply(conn) == {"ack": CHUNK}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(min_size=1, max_size=2048)
    | near_requests.map(lambda f: msgpack.packb(f, use_bin_type=True))
    | deeply_nested_frames
)
def test_server_survives_fuzzed_connections(
    fuzz_server: tuple[ForwardInput, RecordingSink], payload: bytes
) -> None:
    server, _ = fuzz_server
    send_raw(server, payload)
    assert_alive(server)


def attack_round(server: ForwardInput, *payloads: bytes) -> None:
    for payload in payloads:
        send_raw(server, payload)


def test_bombs_and_oversized_frames_keep_memory_flat(fuzz_server: tuple[ForwardInput, RecordingSink]) -> None:
    server, _ = fuzz_server
    bomb = msgpack.packb(
        ["app", gzip.compress(b"\x00" * 20_000_000), {"compressed": "gzip"}]
    )  # 20 MB -> 20 KB
    oversized = msgpack.packb(["app", 1, {"x": "y" * 1_000_000}])
    huge_array_header = bytes.fromhex("dd ffffffff") + b"\xc0" * 100
    errors_before = dict(server.stats.errors)
    tracemalloc.start()
    try:
        attack_round(server, bomb, oversized, huge_array_header)
        _, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(4):
            attack_round(server, bomb, oversized, huge_array_header)
        _, later_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Inflating the bomb would take 20 MB and buffering the big frame 1 MB; the caps (64 KiB frame,
    # 256 KiB inflated) keep one round to a few times the inflate cap, and more rounds cost no more.
    assert first_peak < 4 * 1024 * 1024, f"peak traced memory {first_peak} bytes"
    assert later_peak < first_peak + 512 * 1024, f"memory grew: {first_peak} -> {later_peak} bytes"
    errors = {k: v - errors_before.get(k, 0) for k, v in server.stats.errors.items()}
    assert errors["decompressed_too_large"] == 5
    assert errors["frame_too_large"] == 5
    assert errors["protocol"] >= 5
    assert_alive(server)
