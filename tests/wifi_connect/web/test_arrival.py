"""RequestArrival: where a request ends, when it is too large, and the plain request a thread then reads.
Pure policy on bytes; the worker that feeds it from sockets is tested over HTTP in test_web_gunicorn.py."""

from __future__ import annotations

import pytest
from wifi_connect.web.arrival import Progress, RequestArrival

HEAD = b"POST /connect HTTP/1.1\r\nHost: 192.168.42.1\r\nContent-Type: application/json\r\n"


def arrival(max_head: int = 1024, max_body: int = 64) -> RequestArrival:
    return RequestArrival.new(max_head, max_body)


def feed_bytewise(request: RequestArrival, data: bytes) -> list[Progress]:
    return [request.feed(data[i:i + 1]) for i in range(len(data))]


def test_a_head_without_body_is_complete_at_the_blank_line():
    request = arrival()
    steps = feed_bytewise(request, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert steps[:-1] == [Progress.MORE] * (len(steps) - 1) and steps[-1] is Progress.COMPLETE
    assert request.as_plain_request() == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_body_of_known_length_is_waited_for_and_extra_bytes_are_left_out():
    request = arrival()
    assert request.feed(HEAD + b"content-length:  5 \r\n\r\nhel") is Progress.MORE
    assert request.head_complete and request.content_length == 5
    assert request.feed(b"loGET / HTTP/1.1\r\n") is Progress.COMPLETE
    assert request.as_plain_request().endswith(b"\r\n\r\nhello")


def test_a_chunked_body_is_decoded_into_a_plain_one():
    request = arrival()
    data = (HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\n{\"a\r\n4\r\n\": 1\r\n1\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n")
    steps = feed_bytewise(request, data)
    assert steps[-1] is Progress.COMPLETE and Progress.COMPLETE not in steps[:-1]
    plain = request.as_plain_request()
    assert plain.endswith(b"Content-Length: 8\r\n\r\n{\"a\": 1}")
    assert b"chunked" not in plain.lower()


@pytest.mark.parametrize("body", [b"Content-Length: 65\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n20\r\n"
                                  + b"x" * 32 + b"\r\n20\r\n" + b"x" * 32 + b"\r\n"])
def test_a_body_over_the_limit_is_413_as_soon_as_it_is_known(body):
    assert arrival(max_body=64).feed(HEAD + body) is Progress.TOO_LARGE_BODY


def test_a_chunked_body_growing_past_the_limit_is_refused_before_it_ends():
    request = arrival(max_body=64)
    request.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    assert request.feed(b"100\r\n" + b"x" * 10) is Progress.TOO_LARGE_BODY  # a 256-byte chunk announced


def test_a_head_over_the_limit_is_431_even_before_its_end():
    assert arrival(max_head=64).feed(b"GET /" + b"a" * 80) is Progress.TOO_LARGE_HEAD
    whole_but_long = b"GET / HTTP/1.1\r\nX: " + b"a" * 50 + b"\r\n\r\n"
    assert arrival(max_head=64).feed(whole_but_long) is Progress.TOO_LARGE_HEAD


@pytest.mark.parametrize("framing", [b"Content-Length: 12abc\r\n\r\n",
                                     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_framing_it_cannot_read_is_handed_on_for_gunicorn_to_refuse(framing):
    assert arrival().feed(HEAD + framing) is Progress.COMPLETE


def test_expect_continue_is_noticed_and_dropped_from_the_plain_request():
    request = arrival()
    assert request.feed(HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n") is Progress.MORE
    assert request.expects_continue
    assert request.feed(b"{}") is Progress.COMPLETE
    plain = request.as_plain_request()
    assert b"expect" not in plain.lower() and plain.endswith(b"Content-Length: 2\r\n\r\n{}")
