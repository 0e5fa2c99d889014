"""Spool formats on disk, and the one-time migration from format 1.

Layout of spool format 2 (this release) under ``spool.dir``::

    FORMAT              "2": the format; a release that changes the layout or the frames raises it
    v2/segments/*.seg   chunk frames (codec.py)
    v2/cursors/*.cursor one per output

Format 1 (releases before the chunk spool) kept ``segments/`` (one ``[tag, time_ns, record]`` frame
per record) and ``cursors/`` directly under ``spool.dir`` and had no FORMAT file.

At start: a FORMAT above 2 is refused (SpoolError: a newer release wrote it; never misread it). A
format-1 spool is converted once: every segment is rewritten as chunk frames into ``v2.migrating/``
(same segment ids, records in the same order, each record's map bytes copied untouched, chunk
boundaries at every cursor so each cursor maps exactly), cursors are translated, everything is
fsynced, then ``v2.migrating`` is renamed to ``v2`` (atomic) and only then is format 1 deleted. A
crash (kill -9, power loss) before the rename leaves format 1 intact and the next start migrates
again from scratch; after the rename, the next start only finishes deleting format 1. Records are
never lost nor duplicated by an interrupted migration.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import zlib
from pathlib import Path

import msgpack

from ..errors import SpoolError
from ..models import Chunk
from ..protocol.entries import event_time_bytes
from . import codec
from .store import SUFFIX, fsync_dir

log = logging.getLogger(__name__)

FORMAT_FILE = "FORMAT"
LAYOUT = "v2"
MIGRATING = "v2.migrating"
_V1_HEADER = struct.Struct(">II")
_V1_MAX_RECORD = 64 * 1024 * 1024
_CHUNK_BYTES = 1024 * 1024  # migrated chunks stay around an input's chunk size


def read_format(root: Path) -> int | None:
    try:
        text = (root / FORMAT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise SpoolError(f"cannot read {root / FORMAT_FILE}: {err.strerror}") from err
    if not text.isdigit():
        raise SpoolError(f"{root / FORMAT_FILE} does not hold a spool format number: {text[:20]!r}")
    return int(text)


def prepare(root: Path) -> Path:
    """The directory of the format-2 layout, after refusing a newer format and migrating format 1."""
    root.mkdir(parents=True, exist_ok=True)
    found = read_format(root)
    if found is not None and found != codec.FORMAT_VERSION:
        raise SpoolError(
            f"spool {root} has format {found}, written by "
            f"{'a newer' if found > codec.FORMAT_VERSION else 'an unknown'} log-agent release; this "
            f"release reads formats 1 and {codec.FORMAT_VERSION}. Let the release that wrote it drain "
            f"it, or move the directory away (its records are then not sent)")
    layout, migrating = root / LAYOUT, root / MIGRATING
    if migrating.exists():
        shutil.rmtree(migrating)  # an interrupted migration: format 1 is intact, start over
    if not layout.exists():
        if _has_format1(root):
            migrate(root, migrating)
            os.rename(migrating, layout)
            fsync_dir(root)
        else:
            layout.mkdir()
    _write_format(root)
    _remove_format1(root)
    return layout


def _has_format1(root: Path) -> bool:
    return any((root / "segments").glob(f"*{SUFFIX}")) or any((root / "cursors").glob("*.cursor"))


def _remove_format1(root: Path) -> None:
    for name in ("segments", "cursors"):
        if (root / name).exists():
            shutil.rmtree(root / name)
            fsync_dir(root)


def _write_format(root: Path) -> None:
    path = root / FORMAT_FILE
    if path.exists():
        return
    temp = root / (FORMAT_FILE + ".tmp")
    with open(temp, "w") as handle:
        handle.write(f"{codec.FORMAT_VERSION}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(root)


def _v1_frames(data: bytes) -> list[tuple[int, int, Chunk | None]]:
    """(start, end, one-record chunk or None when corrupt) of each format-1 frame; a torn tail ends it."""
    frames: list[tuple[int, int, Chunk | None]] = []
    pos = 0
    while pos + _V1_HEADER.size <= len(data):
        length, crc = _V1_HEADER.unpack_from(data, pos)
        end = pos + _V1_HEADER.size + length
        if length > _V1_MAX_RECORD or end > len(data) or zlib.crc32(data[pos + 8:end]) != crc:
            start = pos
            pos = _v1_resync(data, pos + 1)
            if pos is None:
                break
            frames.append((start, pos, None))
            continue
        frames.append((pos, end, _v1_entry(data[pos + _V1_HEADER.size:end])))
        pos = end
    return frames


def _v1_resync(data: bytes, pos: int) -> int | None:
    for candidate in range(pos, len(data) - _V1_HEADER.size + 1):
        length, crc = _V1_HEADER.unpack_from(data, candidate)
        end = candidate + _V1_HEADER.size + length
        if length <= _V1_MAX_RECORD and end <= len(data) and zlib.crc32(data[candidate + 8:end]) == crc:
            return candidate
    return None


def _v1_entry(payload: bytes) -> Chunk | None:
    """``[tag, time_ns, record]`` -> a one-entry chunk; the record's bytes are copied, not decoded."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0)
    unpacker.feed(payload)
    try:
        if unpacker.read_array_header() != 3:
            return None
        tag, time_ns = unpacker.unpack(), unpacker.unpack()
        record_at = unpacker.tell()
        if not isinstance(tag, str) or not isinstance(time_ns, int) or time_ns < 0:
            return None
        entry = b"\x92" + event_time_bytes(time_ns) + payload[record_at:]
    except (ValueError, TypeError, struct.error, msgpack.UnpackException):
        return None
    return Chunk(tag, entry, 1)


def _read_v1_cursors(root: Path) -> dict[str, dict]:
    cursors = {}
    for path in (root / "cursors").glob("*.cursor"):
        try:
            data = json.loads(path.read_text())
            cursors[path.name] = {"segment": int(data["segment"]), "offset": int(data["offset"])}
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("spool migration: cursor %s unreadable (%s); that output re-reads from the "
                        "oldest record", path.name, err)
    return cursors


def migrate(root: Path, target: Path) -> None:
    """Rewrite format 1 under ``root`` as format 2 in ``target`` (see the module docstring)."""
    (target / "segments").mkdir(parents=True)
    (target / "cursors").mkdir()
    cursors = _read_v1_cursors(root)
    corrupt = records = 0
    for path in sorted((root / "segments").glob(f"*{SUFFIX}")):
        stem = path.name.removesuffix(SUFFIX)
        if not stem.isdigit():
            continue
        seg_id = int(stem)
        cuts = {c["offset"] for c in cursors.values() if c["segment"] == seg_id}
        data = path.read_bytes()
        frames = _v1_frames(data)
        corrupt += sum(1 for *_, chunk in frames if chunk is None)
        records += sum(1 for *_, chunk in frames if chunk is not None)
        offsets = _write_segment(target / "segments" / path.name, frames, cuts)
        for cursor in cursors.values():
            if cursor["segment"] == seg_id:
                cursor["offset"] = next((new for old, new in offsets if old >= cursor["offset"]),
                                        offsets[-1][1])
    for name, cursor in cursors.items():
        (target / "cursors" / name).write_text(json.dumps(cursor))
        _fsync_file(target / "cursors" / name)
    fsync_dir(target / "cursors")
    fsync_dir(target / "segments")
    fsync_dir(target)
    log.warning("spool: migrated format 1 to %d (%d records, %d corrupt frames skipped, %d cursors)",
                codec.FORMAT_VERSION, records, corrupt, len(cursors))


def _write_segment(path: Path, frames: list[tuple[int, int, Chunk | None]], cuts: set[int]) -> list[
        tuple[int, int]]:
    """Write one migrated segment; returns (old offset, new offset) at every chunk boundary."""
    offsets: list[tuple[int, int]] = [(0, 0)]
    out = bytearray()
    pending: list[bytes] = []
    tag: str | None = None
    size = 0

    def flush(old_end: int) -> None:
        nonlocal pending, size
        if pending:
            out.extend(codec.encode(Chunk(tag or "", b"".join(pending), len(pending))))
            pending, size = [], 0
        offsets.append((old_end, len(out)))

    for start, end, chunk in frames:
        if pending and (start in cuts or chunk is None or chunk.tag != tag or size >= _CHUNK_BYTES):
            flush(start)
        if chunk is not None:
            tag = chunk.tag
            pending.append(chunk.entries)
            size += len(chunk.entries)
        else:
            offsets.append((end, len(out)))  # a corrupt v1 frame: dropped, cursors past it move on
    flush(frames[-1][1] if frames else 0)
    with open(path, "wb") as handle:
        handle.write(out)
        handle.flush()
        os.fsync(handle.fileno())
    return offsets


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
