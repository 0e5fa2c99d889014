"""sidecar_common.auth (bearer/basic over a real server, secrets from files, the loopback rule) and
sidecar_common.http.parse_listen."""

from __future__ import annotations

import base64
import hmac
import logging
from pathlib import Path

import pytest
import requests
import sidecar_common.auth as auth_module
from sidecar_common.auth import HttpAuth, parse_users, read_secret, require_auth, require_auth_beyond_loopback
from sidecar_common.errors import ConfigError
from sidecar_common.http import Listen, parse_listen

from tests.common.conftest import StartServer
from tests.common.http_helpers import make_app, url

TOKEN = "s3cret-token-value"
USERS = {"alice": "wonder land", "bob": "builder:colon"}


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        calls.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    return calls


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bearer_token(start_server: StartServer, compare_calls: list,
                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_server(app=require_auth(make_app(), HttpAuth(bearer_token=TOKEN), "device"))
    refused = requests.get(url(server), timeout=5)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="device"'
    assert requests.get(url(server), headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
    assert requests.get(url(server), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text == "ok"
    assert (b"nope", TOKEN.encode()) in compare_calls  # the constant-time comparison is the one used
    assert TOKEN not in caplog.text and "nope" not in caplog.text


def test_basic_users(start_server: StartServer, compare_calls: list,
                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = start_server(app=require_auth(make_app(), HttpAuth(basic_users=USERS), 'the "box"'))
    refused = requests.get(url(server), timeout=5)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="the \\"box\\"", charset="UTF-8"'
    assert requests.get(url(server), auth=("alice", "wonder land"), timeout=5).text == "ok"
    assert requests.get(url(server), auth=("bob", "builder:colon"), timeout=5).text == "ok"
    compare_calls.clear()
    assert requests.get(url(server), auth=("alice", "builder:colon"), timeout=5).status_code == 401
    assert len(compare_calls) == 2 * len(USERS)  # every user compared: timing does not reveal names
    for header in ("Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest x"):
        assert requests.get(url(server), headers={"Authorization": header}, timeout=5).status_code == 401
    assert "wonder land" not in caplog.text and "builder" not in caplog.text


def test_token_or_users() -> None:
    auth = HttpAuth(bearer_token=TOKEN, basic_users=USERS)
    assert auth.check({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"})
    assert auth.check({"HTTP_AUTHORIZATION": basic("alice", "wonder land")})
    assert not auth.check({"HTTP_AUTHORIZATION": basic("alice", TOKEN)})
    assert not auth.check({})
    assert not HttpAuth().check({"HTTP_AUTHORIZATION": "Bearer "})


def test_no_auth_leaves_the_app_alone() -> None:
    app = make_app()
    assert require_auth(app, None, "x") is app
    assert require_auth(app, HttpAuth(), "x") is app


def test_read_secret(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-file\n\n")
    assert read_secret("from-value", str(secret), "API_TOKEN") == "from-file\n"  # one newline stripped
    secret.write_text("crlf\r\n")
    assert read_secret("", str(secret), "API_TOKEN") == "crlf"
    assert read_secret("from-value", "", "API_TOKEN") == "from-value"
    secret.write_text("\n")
    with pytest.raises(ConfigError) as empty:
        read_secret("from-value", str(secret), "API_TOKEN_FILE")
    assert empty.value.key == "API_TOKEN_FILE"
    with pytest.raises(ConfigError) as missing:
        read_secret("", str(tmp_path / "absent"), "API_TOKEN_FILE")
    assert missing.value.key == "API_TOKEN_FILE" and "absent" in missing.value.message


def test_parse_users() -> None:
    assert parse_users("# who\nalice:wonder land\n\nbob:builder:colon\n", "USERS_FILE") == USERS
    with pytest.raises(ConfigError) as bad:
        parse_users("alice:ok\nsecretwithoutcolon\n", "USERS_FILE")
    assert bad.value.key == "USERS_FILE" and "secretwithoutcolon" not in str(bad.value)


@pytest.mark.parametrize("text", ["127.0.0.1:8080", "127.8.9.1:1", "[::1]:80", "localhost:80", "unix:/run/a"])
def test_loopback_listeners_need_no_auth(text: str) -> None:
    listen = parse_listen(text, "LISTEN")
    assert listen.is_loopback()
    require_auth_beyond_loopback(listen, None, "LISTEN")


@pytest.mark.parametrize("text", ["0.0.0.0:8080", ":8080", "[::]:80", "192.168.42.1:80"])
def test_other_listeners_need_auth(text: str) -> None:
    listen = parse_listen(text, "LISTEN")
    assert not listen.is_loopback()
    with pytest.raises(ConfigError) as refused:
        require_auth_beyond_loopback(listen, HttpAuth(), "LISTEN")
    assert refused.value.key == "LISTEN"
    require_auth_beyond_loopback(listen, HttpAuth(bearer_token=TOKEN), "LISTEN")


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9100", "K") == Listen("127.0.0.1", 9100)
    assert parse_listen(":9100", "K") == Listen("0.0.0.0", 9100)
    assert parse_listen("[fe80::1]:0", "K") == Listen("fe80::1", 0)
    assert parse_listen("unix:/run/x.sock", "K") == Listen("", 0, "/run/x.sock")
    assert str(parse_listen("[::1]:5", "K")) == "[::1]:5"
    for bad in ("9100", "host:80", "1.2.3.4:99999", "::1:80", "[::1:80", "unix:relative", "1.2.3.4:x"):
        with pytest.raises(ConfigError) as error:
            parse_listen(bad, "THE_KEY")
        assert error.value.key == "THE_KEY"
