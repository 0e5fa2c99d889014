"""Reading ``journalctl --output=export`` (the journal's export format) into entries.

Why export, not ``--output=json``: journalctl formats export about 3.5 times faster than JSON (no
escaping; measured with systemd 252 on 250 000 balena-like entries: 1.0 s against 3.8 s), and the
journalctl child was the larger half of the input's CPU. The format (systemd's "Journal Export
Formats"): an entry is its fields followed by an empty line; a field is ``NAME=value\\n`` when the
value is printable text, else ``NAME\\n`` + its size (64-bit little endian) + the raw bytes + ``\\n``
(binary data, newlines in messages).

An entry comes out as ``{name: value}``: text (str), or bytes for a value that is not UTF-8 (the
common entry, all text, is decoded in one piece and split in C; one with binary fields is read
field by field, keeping only the fields asked for); a field that occurs twice keeps its first value,
as the JSON form's first array item. What is held is bounded: an entry larger than
``max_entry_bytes`` is skipped (``too_large`` counts them) and its bytes are not kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .journal_fields import field_value

_END = b"\n\n"  # an entry's last field line and the empty line after it
_SIZE_BYTES = 8


class ExportReader:
    def __init__(self, fields: Iterable[str], max_entry_bytes: int) -> None:
        self._names = {name.encode("ascii"): name for name in fields}
        self.max_entry_bytes = max_entry_bytes
        self._buffer = b""
        self._skipping = False  # the rest of an entry over max_entry_bytes is being dropped
        self.too_large = 0

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The entries completed by ``data`` (the bytes of an incomplete one are kept for later)."""
        buffer = self._buffer + data if self._buffer else data
        pos = 0
        if self._skipping:
            end = buffer.find(_END)
            if end < 0:
                self._buffer = buffer[-1:]  # "\n" + the next read's "\n" ends it too
                return []
            self._skipping, pos = False, end + len(_END)
        entries: list[dict[str, Any]] = []
        find = buffer.find
        while True:
            end = find(_END, pos)
            if end < 0:
                break
            try:
                # reversed: a field that occurs twice keeps its first value
                lines = buffer[pos:end].decode("utf-8").split("\n")
                entry = dict(line.split("=", 1) for line in reversed(lines))
            except (UnicodeDecodeError, ValueError):  # not UTF-8, or a binary field (no "=")
                pass
            else:  # all text: no field holds a newline, so this blank line is the entry's end
                if end - pos > self.max_entry_bytes:  # whole in one read (reads go up to 1 MiB): skip it
                    self.too_large += 1
                else:
                    entries.append(entry)
                pos = end + len(_END)
                continue
            parsed = self._binary_entry(buffer, pos)
            if parsed is None:
                break  # incomplete: the rest comes with the next read
            entry, after = parsed
            too_large = after - pos > self.max_entry_bytes
            pos = after
            if too_large:
                self.too_large += 1
            elif entry:  # (an empty line where an entry was expected: nothing to read)
                entries.append({key: field_value(value) for key, value in entry.items()})
        rest = buffer[pos:]
        if len(rest) > self.max_entry_bytes:
            self.too_large += 1
            self._skipping, rest = True, b""
        self._buffer = rest
        return entries

    def _binary_entry(self, buffer: bytes, pos: int) -> tuple[dict[str, bytes], int] | None:
        """The entry at ``pos`` field by field; None when it is not complete in ``buffer``."""
        entry: dict[str, bytes] = {}
        names = self._names
        while True:
            newline = buffer.find(b"\n", pos)
            if newline < 0:
                return None
            if newline == pos:  # the empty line after the last field
                return entry, pos + 1
            name, sep, value = buffer[pos:newline].partition(b"=")
            if sep:
                pos = newline + 1
            else:
                start = newline + 1 + _SIZE_BYTES
                if start > len(buffer):
                    return None
                size = int.from_bytes(buffer[newline + 1:start], "little")
                if start + size + 1 > len(buffer):
                    return None
                value, pos = buffer[start:start + size], start + size + 1
            key = names.get(name)
            if key is not None and key not in entry:
                entry[key] = value
