"""Checking entries and splicing the identity into record maps as bytes (protocol/walk.py)."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from log_agent.enrich import Enricher
from log_agent.errors import ProtocolError
from log_agent.models import Chunk
from log_agent.protocol.entries import decode_chunk, pack_entry
from log_agent.protocol.walk import map_header, walk

T = 1_700_000_000_123_456_789
IDENTITY = {"uuid": "0123456789abcdef", "hostname": "dev"}


def records_of(entries: bytes, count: int, enricher: Enricher | None = None, piece: int = 1 << 20) -> list:
    splice = enricher.splice if enricher else None
    pieces = list(walk(entries, count, splice, piece))
    assert sum(n for _, n in pieces) == count
    return [r for data, n in pieces for r in decode_chunk(Chunk("t", data, n)).records]


@pytest.mark.parametrize("keys", [0, 1, 14, 15, 16, 65534, 65535, 65536, 70000])
def test_the_map_header_grows_across_fixmap_map16_and_map32(keys: int) -> None:
    record = {f"k{i}": i for i in range(keys)}
    entry = pack_entry(T, record)
    [out] = records_of(entry, 1, Enricher(IDENTITY))
    assert out.record == {**record, "device": IDENTITY} and out.time_ns == T
    header = map_header(keys + 1)
    assert header == msgpack.packb({f"k{i}": i for i in range(keys + 1)})[:len(header)]


def test_a_record_that_has_the_key_keeps_its_own_values() -> None:
    entries = b"".join([
        pack_entry(T, {"device": {"uuid": "mine"}, "m": 1}),  # a map: missing sub-keys filled in
        pack_entry(T, {"device": "not a map", "m": 2}),  # something else: left alone
        pack_entry(T, {"m": 3, "text": "device"}),  # the key's bytes as a value: same rule, no change
    ])
    out = [r.record for r in records_of(entries, 3, Enricher(IDENTITY))]
    assert out == [{"device": {"uuid": "mine", "hostname": "dev"}, "m": 1},
                   {"device": "not a map", "m": 2},
                   {"m": 3, "text": "device", "device": IDENTITY}]


def test_every_time_form_and_shape_becomes_a_normal_entry() -> None:
    entries = b"".join([
        b"\x92" + msgpack.packb(1_700_000_000) + msgpack.packb({"m": "int"}),
        b"\x92" + msgpack.packb(1_700_000_000.5) + msgpack.packb({"m": "float"}),
        b"\x92\x92" + msgpack.packb(msgpack.ExtType(0, b"\x65\x53\xf1\x00\x00\x00\x00\x07")) + b"\x80"
        + msgpack.packb({"m": "fluent-bit metadata"}),
        b"\x92" + msgpack.packb(1_700_000_000) + msgpack.packb("a plain string"),
    ])
    out = records_of(entries, 4, Enricher(IDENTITY))
    assert [r.record.get("m", r.record.get("message")) for r in out] == [
        "int", "float", "fluent-bit metadata", "a plain string"]
    assert [r.time_ns for r in out] == [1_700_000_000 * 10**9, 1_700_000_000_500_000_000,
                                        1_700_000_000 * 10**9 + 7, 1_700_000_000 * 10**9]
    assert all(r.record["device"] == IDENTITY for r in out)


@pytest.mark.parametrize("entries, count, reason", [
    (b"\x93\x01\x80\x80", 1, "entry"),  # a 3-element array
    (b"\x92\xa3bad\x80", 1, "event time"),  # a time that is a string
    (b"\x92\x01\x80", 2, "announced"),  # fewer entries than announced
    (b"\x92\x01\x80\x92\x01\x80", 1, "more entries"),
    (b"\x92\x01\x81\xa1k", 1, "middle of an entry"),  # cut in the middle of the record
    (b"\x92\x01\xc1", 1, "invalid entry"),  # not msgpack
])
def test_bad_entries_are_a_protocol_error(entries: bytes, count: int, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        records_of(entries, count)


def test_non_utf8_keys_and_values_pass_unchanged() -> None:
    record = b"\x83\xc4\x01\xff\x01" + b"\xa2\xc3\x28" + b"\x01" + b"\xa1k" + b"\xc4\x02\xfe\xfe"
    entry = b"\x92\x01" + record  # bin 0xff as a key, a str key that is not UTF-8, bin value
    data, n = next(walk(entry, 1, None, 1 << 20))
    assert data == entry and n == 1  # checked, not rewritten
    [out] = records_of(entry, 1, Enricher(IDENTITY))
    assert out.record == {b"\xff": 1, "\udcc3(": 1, "k": b"\xfe\xfe", "device": IDENTITY}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers(-2**63, 2**64 - 1) | st.text(max_size=20),
                                max_size=20),
                min_size=1, max_size=50), st.integers(min_value=1, max_value=400))
def test_splicing_equals_decoding_and_merging(bodies: list[dict], piece: int) -> None:
    enricher = Enricher(IDENTITY)
    entries = b"".join(pack_entry(T + i, body) for i, body in enumerate(bodies))
    out = records_of(entries, len(bodies), enricher, piece)
    assert [r.record for r in out] == [enricher.merge(body) for body in bodies]


@pytest.mark.parametrize("nanoseconds", [0, 0x3AFFFFFF, 0x3B000000, 999_999_999, 1_000_000_000, 0xFFFFFFFF])
def test_event_time_nanoseconds_up_to_a_second_pass_and_beyond_are_refused(nanoseconds: int) -> None:
    """The fast path takes every valid EventTime (also ns from 0x3B000000 to 1e9 - 1); an
    invalid one (ns of a second or more) is still checked and refused."""
    seconds = 1_700_000_000
    ext = msgpack.ExtType(0, seconds.to_bytes(4, "big") + nanoseconds.to_bytes(4, "big"))
    entry = b"\x92" + msgpack.packb(ext) + msgpack.packb({"m": 1})
    if nanoseconds >= 10**9:
        with pytest.raises(ProtocolError, match="event time"):
            records_of(entry, 1, Enricher(IDENTITY))
        return
    [out] = records_of(entry, 1, Enricher(IDENTITY))
    assert out.time_ns == seconds * 10**9 + nanoseconds and out.record == {"m": 1, "device": IDENTITY}
