"""``python -m tests.e2e.portal_attacker GATEWAY SOURCES IDLE TRICKLE INTERVAL DURATION``, run in the phone's
namespace: strangers on the setup AP holding connections to the portal (port 80) from the comma-separated
addresses SOURCES (round robin: the per-client limit alone does not turn them away).

IDLE connections are opened and left silent; TRICKLE connections send a request head one byte every
INTERVAL seconds. After DURATION seconds it prints one JSON object: for each kind, the seconds after
which the server closed each socket (null: still open)."""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time

HEAD = b"GET /networks HTTP/1.1\r\nHost: 192.168.42.1\r\nUser-Agent: slow\r\nAccept: */*\r\n" * 50


def open_from(source: str, gateway: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect((gateway, 80))
    sock.setblocking(False)
    return sock


def main(gateway: str, sources: str, idle: str, trickle: str, interval: str, duration: str) -> None:
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    closed: dict[str, list[float | None]] = {"idle": [], "trickle": []}
    trickling: list[tuple[int, socket.socket]] = []
    addresses = sources.split(",")
    for kind, count in (("idle", int(idle)), ("trickle", int(trickle))):
        for number in range(count):
            sock = open_from(addresses[number % len(addresses)], gateway)
            index = len(closed[kind])
            closed[kind].append(None)
            selector.register(sock, selectors.EVENT_READ, (kind, index))
            if kind == "trickle":
                trickling.append((index, sock))
    sent = 0
    next_byte = time.monotonic()
    while time.monotonic() - started < float(duration):
        if time.monotonic() >= next_byte:
            for index, sock in trickling:
                if closed["trickle"][index] is None:
                    try:
                        sock.send(HEAD[sent:sent + 1])
                    except OSError:
                        closed["trickle"][index] = time.monotonic() - started
            sent += 1
            next_byte += float(interval)
        for key, _ in selector.select(timeout=0.05):
            kind, index = key.data
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed[kind][index] = time.monotonic() - started
                selector.unregister(key.fileobj)
    print(json.dumps(closed))


if __name__ == "__main__":
    main(*sys.argv[1:7])
