"""The Forward v1 codec on literal bytes, one test per carrier mode and time encoding."""

from __future__ import annotations

import gzip
import hashlib

import msgpack
import pytest
from log_agent.errors import ProtocolError
from log_agent.outputs.encoding import to_json
from log_agent.protocol import (
    Helo,
    Limits,
    Ping,
    Pong,
    ProtocolLimitError,
    ack,
    event_time,
    packed_forward,
    parse_helo,
    parse_ping,
    parse_pong,
)
from log_agent.protocol.handshake import digest

from tests.log_agent.protocol.frames import Decoder, EventBatch, KeepAlive, decode_all

T = 1_700_000_000  # 0x6553F100
T_NS = T * 1_000_000_000
# EventTime 1700000000.000000123 as fixext8 (d7 00) and as ext8 (c7 08 00)
FIXEXT8_TIME = bytes.fromhex("d700 6553f100 0000007b")
EXT8_TIME = bytes.fromhex("c70800 6553f100 0000007b")
RECORD_A1 = bytes.fromhex("81 a1 61 01")  # {"a": 1}
TAG = bytes.fromhex("a3") + b"app"  # fixstr "app"


def only_batch(data: bytes) -> EventBatch:
    (request,) = decode_all(data)
    assert isinstance(request, EventBatch)
    return request


def test_message_mode_with_integer_time() -> None:
    frame = bytes.fromhex("93") + TAG + bytes.fromhex("ce 6553f100") + RECORD_A1
    batch = only_batch(frame)
    assert (batch.tag, batch.entries, batch.chunk) == ("app", [(T_NS, {"a": 1})], None)


@pytest.mark.parametrize("time_bytes", [FIXEXT8_TIME, EXT8_TIME], ids=["fixext8", "ext8"])
def test_message_mode_with_event_time(time_bytes: bytes) -> None:
    chunk_option = bytes.fromhex("81 a5") + b"chunk" + bytes.fromhex("a2") + b"c1"
    frame = bytes.fromhex("94") + TAG + time_bytes + RECORD_A1 + chunk_option
    batch = only_batch(frame)
    assert batch.entries == [(T_NS + 123, {"a": 1})]
    assert batch.chunk == "c1"


def fixstr(text: str) -> bytes:
    return bytes([0xA0 | len(text)]) + text.encode()


# Docker's fluentd log driver is fluent-logger-golang: Message mode [tag, time, record, option] as
# a msgp tuple, time as a compact int (int32 d2) or EventTime (fixext8), the record a map of str,
# and option {} without fluentd-request-ack or {"chunk": <base64 id>} with it.
DOCKER_RECORD = bytes.fromhex("84") + b"".join(
    fixstr(k) + fixstr(v)
    for k, v in [("container_id", "3f9a"), ("container_name", "/app"), ("source", "stdout"), ("log", "hi")]
)
GOLANG_CHUNK = "p8n9gmxTQVC8/nh2wlKKeQ=="
GOLANG_OPTIONS = {
    "no-ack": (bytes.fromhex("80"), None),
    "request-ack": (bytes.fromhex("81") + fixstr("chunk") + bytes.fromhex("b8") + GOLANG_CHUNK.encode(),
                    GOLANG_CHUNK),
}


@pytest.mark.parametrize("option", sorted(GOLANG_OPTIONS))
@pytest.mark.parametrize(("time_bytes", "time_ns"),
                         [(bytes.fromhex("d2 6553f100"), T_NS), (FIXEXT8_TIME, T_NS + 123)],
                         ids=["int32", "EventTime"])
def test_fluent_logger_golang_message_mode(option: str, time_bytes: bytes, time_ns: int) -> None:
    option_bytes, chunk = GOLANG_OPTIONS[option]
    tag = fixstr("docker.app")
    batch = only_batch(bytes.fromhex("94") + tag + time_bytes + DOCKER_RECORD + option_bytes)
    record = {"container_id": "3f9a", "container_name": "/app", "source": "stdout", "log": "hi"}
    assert (batch.tag, batch.entries, batch.chunk) == ("docker.app", [(time_ns, record)], chunk)
    if chunk is not None:  # what the driver waits for before it drops the message from its buffer
        assert ack(batch.chunk) == bytes.fromhex("81") + fixstr("ack") + bytes.fromhex("b8") + chunk.encode()


def test_forward_mode() -> None:
    entry = bytes.fromhex("92") + FIXEXT8_TIME + RECORD_A1
    frame = bytes.fromhex("92") + TAG + bytes.fromhex("92") + entry + entry
    assert only_batch(frame).entries == [(T_NS + 123, {"a": 1})] * 2


@pytest.mark.parametrize("container", ["c4", "d9"], ids=["bin8", "str8"])
def test_packed_forward_accepts_bin_and_str(container: str) -> None:
    stream = (bytes.fromhex("92") + FIXEXT8_TIME + RECORD_A1) * 3
    option = bytes.fromhex("81 a4") + b"size" + bytes.fromhex("03")
    frame = bytes.fromhex("93") + TAG + bytes.fromhex(container) + bytes([len(stream)]) + stream + option
    batch = only_batch(frame)
    assert len(batch.entries) == 3  # option.size is not trusted (fluent-logger-node puts bytes there)


def test_compressed_packed_forward_with_two_gzip_members() -> None:
    entry = bytes.fromhex("92 ce 6553f100") + RECORD_A1
    body = gzip.compress(entry * 2) + gzip.compress(entry)  # the spec allows concatenated members
    option = {"compressed": "gzip", "chunk": "p8n9gmxTQVC8/nh2wlKKeQ==", "size": 3}
    batch = only_batch(msgpack.packb(["app", body, option], use_bin_type=True))
    assert batch.entries == [(T_NS, {"a": 1})] * 3
    assert batch.chunk == "p8n9gmxTQVC8/nh2wlKKeQ=="


def test_nil_keepalive_and_frames_split_across_reads() -> None:
    frame = bytes.fromhex("93") + TAG + bytes.fromhex("ce 6553f100") + RECORD_A1
    decoder = Decoder()
    stream = b"\xc0" + frame + frame
    got = []
    for i in range(len(stream)):  # one byte at a time: partial frames wait for the rest
        got += decoder.requests(stream[i : i + 1])
    assert isinstance(got[0], KeepAlive)
    assert [r.entries for r in got[1:]] == [[(T_NS, {"a": 1})]] * 2


def test_fluent_bit_metadata_entry_shape() -> None:
    """Fluent Bit's retain_metadata_in_forward_mode sends [[time, metadata], record]."""
    frame = msgpack.packb(["app", [[[event_time(T_NS), {"m": 1}], {"a": 1}]]], use_bin_type=True)
    assert only_batch(frame).entries == [(T_NS, {"a": 1})]


def test_a_record_that_is_not_a_map_is_kept_as_message() -> None:
    """fluent-logger's FluentHandler without a FluentRecordFormatter sends the formatted str."""
    frame = msgpack.packb(["app", T, "plain line"], use_bin_type=True)
    assert only_batch(frame).entries == [(T_NS, {"message": "plain line"})]


def test_bin_stays_bytes_invalid_utf8_str_is_escaped_and_json_makes_both_safe() -> None:
    record = {b"ok": b"caf\xc3\xa9", "bad": b"\xff\xfe", "nested": [{"k": b"v"}]}
    decoded = only_batch(msgpack.packb(["app", T, record], use_bin_type=True)).entries[0][1]
    assert decoded == {b"ok": b"caf\xc3\xa9", "bad": b"\xff\xfe", "nested": [{"k": b"v"}]}
    assert to_json(decoded) == '{"ok":"café","bad":{"base64":"//4="},"nested":[{"k":"v"}]}'
    odd = bytes.fromhex("93") + TAG + bytes.fromhex("01") + bytes.fromhex("81 a2 c328 01")  # str key c3 28
    assert only_batch(odd).entries[0][1] == {"\udcc3(": 1}
    assert to_json({"\udcc3(": 1}) == '{"\\udcc3(":1}'


@pytest.mark.parametrize(
    "frame, message",
    [
        (["app"], "small array"),
        ([1, T, {}], "tag must be"),
        (["app", T], "Message mode"),
        (["app", -1, {}], "event time"),
        (["app", 2**40, {}], "event time"),
        (["app", float("inf"), {}], "event time"),
        (["app", float("nan"), {}], "event time"),
        (["app", msgpack.ExtType(0, b"\x00" * 4), {}], "event time"),
        (["app", msgpack.ExtType(0, bytes.fromhex("00000001 3b9aca00")), {}], "event time"),
        (["app", msgpack.ExtType(5, b"\x00" * 8), {}], "event time"),
        (["app", [[T]]], "[time, record]"),
        (["app", T, {}, "opt"], "option must be a"),
        (["app", b"\x92\x01", {}], "middle of an entry"),
        (["app", b"xx", {"compressed": "gzip"}], "gzip"),
        (["app", b"", {"compressed": "zstd"}], "compressed"),
        ("just a string", "small array"),
    ],
)
def test_wrong_shapes_raise_protocol_error_naming_the_problem(frame: object, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_all(msgpack.packb(frame, use_bin_type=True))


def test_frame_larger_than_limit_is_refused_before_it_is_buffered() -> None:
    decoder = Decoder(Limits(max_frame_bytes=1024))
    with pytest.raises(ProtocolLimitError, match="1024"):
        decoder.requests(msgpack.packb(["app", T, {"x": "y" * 2000}]))


def test_container_header_announcing_millions_of_items_is_refused() -> None:
    # array32 header of 4 billion elements: msgpack would preallocate it without the element cap
    with pytest.raises(ProtocolError):
        decode_all(bytes.fromhex("dd ffffffff") + b"\x00" * 10, Limits(max_frame_bytes=4096))


def test_gzip_bomb_is_stopped_at_the_cap() -> None:
    bomb = gzip.compress(b"\x92\x00\x80" * (17 * 1024 * 1024))  # 50 MiB of [0, {}] in ~50 KiB
    frame = msgpack.packb(["app", bomb, {"compressed": "gzip"}], use_bin_type=True)
    with pytest.raises(ProtocolLimitError):
        decode_all(frame, Limits(max_decompressed_bytes=1024 * 1024))


def test_packed_forward_round_trip_and_exact_wire_bytes() -> None:
    frame = packed_forward("app", [(T_NS + 123, {"a": 1})], chunk="c1")
    stream = bytes.fromhex("92") + FIXEXT8_TIME + RECORD_A1
    expected_option = bytes.fromhex("82 a4") + b"size" + b"\x01" + bytes.fromhex("a5") + b"chunk\xa2c1"
    assert frame == bytes.fromhex("93") + TAG + bytes([0xC4, len(stream)]) + stream + expected_option
    compressed = packed_forward("app", [(T_NS, {"a": 1})] * 2, chunk="c2", compress=True)
    batch = only_batch(compressed)
    assert batch.compressed
    assert batch.entries == [(T_NS, {"a": 1})] * 2


def test_ack_bytes() -> None:
    assert ack("c1") == bytes.fromhex("81 a3") + b"ack" + bytes.fromhex("a2") + b"c1"


def test_handshake_digests_follow_the_spec_and_are_mutual() -> None:
    helo = parse_helo(msgpack.unpackb(Helo("nonce1", "").encode()))
    ping = parse_ping(msgpack.unpackb(Ping.create(helo, "client", "secret").encode()))
    assert ping.shared_key_digest == digest(ping.shared_key_salt, "client", "nonce1", "secret")
    assert ping.verify(helo, "secret", {}) == ""
    assert ping.verify(helo, "other", {}) == "shared_key mismatch"
    pong = parse_pong(msgpack.unpackb(Pong.create(helo, ping, "", "server", "secret").encode()))
    pong.verify(helo, ping, "secret")
    with pytest.raises(ProtocolError, match="digest mismatch"):
        pong.verify(helo, ping, "other")  # a server that does not know the key is caught


def test_handshake_user_auth() -> None:
    helo = Helo("n", "salt")
    ping = Ping.create(helo, "client", "key", "alice", "pw")
    assert ping.password_digest == digest("salt", "alice", "pw")
    assert ping.verify(helo, "key", {"alice": "pw"}) == ""
    assert ping.verify(helo, "key", {"alice": "other"}) == "username/password mismatch"
    refused = Pong.create(helo, ping, "nope", "server", "key")
    assert (refused.auth_ok, refused.shared_key_digest) == (False, "")
    with pytest.raises(ProtocolError, match="refused"):
        refused.verify(helo, ping, "key")


def test_binary_nonce_and_salt_as_fluentd_sends_them() -> None:
    """Fluentd's in_forward sends the nonce, and its out_forward the salt, as random bytes (bin)."""
    nonce, salt = b"\xfa\x00\x9c" * 5, b"\x81\xff" * 8
    helo = parse_helo(msgpack.unpackb(msgpack.packb(["HELO", {"nonce": nonce, "auth": b""}]), raw=True))
    assert helo.nonce == nonce
    key_digest = hashlib.sha512(salt + b"client" + nonce + b"key").hexdigest()
    ping = parse_ping(["PING", "client", salt, key_digest, "", ""])
    assert ping.verify(helo, "key", {}) == ""


def test_packed_stream_with_a_non_utf8_str_keeps_every_byte() -> None:
    """Stored as sent; decoded at the edge with surrogateescape (str) and as bytes (bin)."""
    bad_str = bytes.fromhex("a2 fffe")  # fixstr of 2 bytes that are not UTF-8
    bin_ok = bytes.fromhex("c4 02") + b"ok"  # bin stays bytes (JSON writes valid UTF-8 bin as text)
    entry = bytes.fromhex("92 ce 6553f100 82 a1") + b"a" + bad_str + bytes.fromhex("a1") + b"b" + bin_ok
    frame = msgpack.packb(["app", entry * 2], use_bin_type=True)
    assert only_batch(frame).entries == [(T_NS, {"a": "\udcff\udcfe", "b": b"ok"})] * 2
    assert to_json({"a": "\udcff\udcfe", "b": b"ok"}) == '{"a":"\\udcff\\udcfe","b":"ok"}'


def test_malformed_handshake_messages() -> None:
    for parse, message in [(parse_helo, ["HELO", "x"]), (parse_ping, ["PING", 1]), (parse_pong, ["PONG"])]:
        with pytest.raises(ProtocolError):
            parse(message)
