"""``RequestArrival``: how much of one HTTP/1.1 request has arrived, and whether it may go on arriving.

The portal's worker (``web.worker``) reads every connection in its event loop, without a thread, until a
whole request (head and body) is buffered; only then does a thread run the app. A client that trickles
its head, sends half a body, or never sends anything holds a few KiB of this buffer, never a thread.
This module is that buffer's policy, with no sockets: bytes in, a verdict out.

It only finds where the request ends. Parsing proper (request line, header syntax, smuggling rules) is
left to gunicorn's parser, which reads the buffered bytes afterwards: anything this scan does not
understand (a malformed length, a bad chunk size) counts as complete, so that gunicorn answers it 400.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

HEAD_END = b"\r\n\r\n"
CHUNK_LINE_LIMIT = 1024  # a chunk-size line with its extensions
_LINE_START = re.IGNORECASE | re.MULTILINE
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", _LINE_START)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*\bchunked\b", re.IGNORECASE | re.MULTILINE)
_REWRITTEN_HEADER = re.compile(rb"^(transfer-encoding|content-length|expect)[ \t]*:", re.IGNORECASE)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue", re.IGNORECASE | re.MULTILINE)


class Progress(enum.Enum):
    MORE = "more"  # keep reading
    COMPLETE = "complete"  # the whole request is buffered: hand it to a thread
    TOO_LARGE_HEAD = "431"
    TOO_LARGE_BODY = "413"


@dataclass(slots=True)
class RequestArrival:
    """Feed it the bytes as they come; it says when the request is whole or too large."""

    max_head_bytes: int
    max_body_bytes: int
    data: bytearray
    head_end: int = -1  # index just past the blank line, once seen
    content_length: int | None = None
    chunked: bool = False
    expects_continue: bool = False
    _chunk_at: int = 0  # chunked: where the next chunk-size line starts
    _body_bytes: int = 0  # chunked: the body as sent, framing included (what the limit counts)
    _decoded: bytearray | None = None  # chunked: the body without its framing

    @classmethod
    def new(cls, max_head_bytes: int, max_body_bytes: int) -> RequestArrival:
        return cls(max_head_bytes, max_body_bytes, bytearray())

    @property
    def head_complete(self) -> bool:
        return self.head_end >= 0

    def feed(self, chunk: bytes) -> Progress:
        self.data += chunk
        if not self.head_complete:
            end = self.data.find(HEAD_END)
            if end < 0:
                return Progress.TOO_LARGE_HEAD if len(self.data) > self.max_head_bytes else Progress.MORE
            if end + len(HEAD_END) > self.max_head_bytes:
                return Progress.TOO_LARGE_HEAD
            self.head_end = end + len(HEAD_END)
            self._read_framing(bytes(self.data[:end]))
            self._chunk_at = self.head_end
        return self._body_progress()

    def _read_framing(self, head: bytes) -> None:
        self.chunked = _CHUNKED.search(head) is not None
        self.expects_continue = _EXPECT_CONTINUE.search(head) is not None
        length = _CONTENT_LENGTH.search(head)
        if length and not self.chunked:
            value = length.group(1)
            self.content_length = int(value) if value.isdigit() else None  # bad: gunicorn answers 400

    def _body_progress(self) -> Progress:
        if self.chunked:
            return self._chunked_progress()
        if self.content_length is None:
            return Progress.COMPLETE  # no body (or a malformed length gunicorn refuses)
        if self.content_length > self.max_body_bytes:
            return Progress.TOO_LARGE_BODY
        arrived = len(self.data) - self.head_end
        return Progress.COMPLETE if arrived >= self.content_length else Progress.MORE

    def _chunked_progress(self) -> Progress:
        """Walk the chunks that have arrived; the limit counts the body with its framing, as sent."""
        while True:
            line_end = self.data.find(b"\r\n", self._chunk_at)
            if line_end < 0:
                pending = len(self.data) - self._chunk_at
                if pending > CHUNK_LINE_LIMIT:
                    return Progress.COMPLETE  # not a chunk-size line: gunicorn answers 400
                return self._body_limit(pending)
            size_text = bytes(self.data[self._chunk_at:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return Progress.COMPLETE  # gunicorn answers 400
            if size == 0:
                return self._trailers_progress(line_end + 2)
            chunk_end = line_end + 2 + size + 2
            if self._body_limit(chunk_end - self._chunk_at) is Progress.TOO_LARGE_BODY:
                return Progress.TOO_LARGE_BODY
            if len(self.data) < chunk_end:
                return Progress.MORE
            if self._decoded is None:
                self._decoded = bytearray()
            self._decoded += self.data[line_end + 2:chunk_end - 2]
            self._body_bytes += chunk_end - self._chunk_at
            self._chunk_at = chunk_end

    def _body_limit(self, pending: int) -> Progress:
        too_large = self._body_bytes + pending > self.max_body_bytes
        return Progress.TOO_LARGE_BODY if too_large else Progress.MORE

    def _trailers_progress(self, trailers_at: int) -> Progress:
        """After the last chunk: optional trailer lines, then an empty line."""
        if self.data[trailers_at:trailers_at + 2] == b"\r\n":
            return Progress.COMPLETE
        if self.data.find(HEAD_END, trailers_at - 2) >= 0:
            return Progress.COMPLETE
        return self._body_limit(len(self.data) - self._chunk_at)

    def as_plain_request(self) -> bytes:
        """The complete request with a plain body of known length: a chunked one is decoded and its head
        says ``Content-Length`` instead (the app reads every body the same way); ``Expect: 100-continue``
        is dropped (the body is here already; gunicorn would send a second "100 Continue"); bytes a client
        sent after the request are left out (there is no keep-alive to serve them)."""
        if not (self.chunked or self.expects_continue):
            return bytes(self.data[:self.head_end + (self.content_length or 0)])
        if self.chunked:
            body = bytes(self._decoded or b"")
        else:
            body = bytes(self.data[self.head_end:self.head_end + (self.content_length or 0)])
        lines = bytes(self.data[:self.head_end - len(HEAD_END)]).split(b"\r\n")
        kept = [line for line in lines[1:] if not _REWRITTEN_HEADER.match(line)]
        head = b"\r\n".join([lines[0], *kept, b"Content-Length: %d" % len(body)])
        return head + HEAD_END + body
