"""One way to serve HTTP in-process: a bottle (any WSGI) app on waitress in a daemon thread, bounded.

Why waitress: its asyncore loop reads and buffers each whole request (head and body, up to the limits)
before a worker thread sees it, so idle, slow and trickling clients cost a few KiB of memory each, never
a worker thread. It is small: +0.9 MiB PSS in the process (measured 22.3 -> 23.2 MiB with
prometheus_client loaded; bottle adds 1.5 MiB), where Flask instead of bottle cost 6.5 MiB more and a
gunicorn worker ~12 MiB as a second process, one that could outlive the agent after a kill -9.
It lacks deadlines and TLS; this package adds both by subclassing its channel and server.

What each limit in ``ServeLimits`` defends against:

- ``max_connections``: descriptor and memory exhaustion by many connections; beyond it new connections
  are accepted and closed at once (plain HTTP gets a best-effort 503), counted as refused ("total").
- ``max_per_client``: one address taking the whole ``max_connections`` (refused "per_client"; not
  applied on Unix sockets, where every peer is this machine).
- ``header_timeout``: slowloris, a client sending its head (or its TLS handshake) a byte at a time to
  hold a connection forever; measured from the request's first byte (the TLS connection's accept).
- ``body_timeout``: the same with the body (slow POST), measured from the end of the head.
- ``idle_timeout``: connections opened and never used, keep-alive connections left open, and clients
  that stop reading our response (counted as "send_timeout").
- ``max_header_bytes`` (431) / ``max_body_bytes`` (413, also for chunked bodies, counted with their
  chunk framing): memory; bodies up to the limit are held in memory, never spilled to a temporary file
  (no disk writes at rest: SD wear). Responses waiting for a slow reader are bounded the same way: a
  worker blocks once 1 MiB is queued, and ``idle_timeout`` ends a reader that stopped.
- ``threads``: how many requests run the application at once; the rest wait, fully buffered.

Refusals and closes are counted by reason (``HttpServer.stats``, for the service's metrics) and logged
at most once per reason per minute, so a flood cannot flood the logs.
"""

from sidecar_common.http.listen import Listen, parse_listen
from sidecar_common.http.server import HttpServer, make_tls_context
from sidecar_common.http.settings import CLOSE_REASONS, REFUSAL_REASONS, ServeLimits, ServerStats, TlsFiles

__all__ = [
    "CLOSE_REASONS",
    "REFUSAL_REASONS",
    "HttpServer",
    "Listen",
    "ServeLimits",
    "ServerStats",
    "TlsFiles",
    "make_tls_context",
    "parse_listen",
]
