"""wifi-connect's HTTP apps: the captive portal (page, JSON API, OS probes) and the loopback control API.

gunicorn runs them by factory: ``gunicorn 'wifi_connect.web:create_portal_app()'`` and
``gunicorn 'wifi_connect.web:create_control_app()'``. Without an explicit ``service`` both talk to the
daemon through ``rpc.ControllerClient`` on the socket named by ``WIFI_CONNECT_SOCKET``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import BusyError, ConfigError, InputError, WifiConnectError
from ..ports import PortalService

# A /connect body is a few short fields; anything bigger is a mistake or an attack (HTTP 413).
MAX_BODY_BYTES = 16 * 1024
PACKAGE_UI_DIRECTORY = Path(__file__).resolve().parent.parent / "ui"
DEFAULT_GATEWAY = "192.168.42.1"
DEFAULT_PORT = 80
# The daemon only needs to know someone is there, not every request: one touch per worker per second.
TOUCH_INTERVAL_SECONDS = 1.0
# A person's actions. OS probes and foreign-Host traffic do not count: a phone that rejoins the AP on its
# own and probes it would otherwise postpone the saved-network retry (and the activity timeout) forever.
PERSON_PATHS = frozenset({"/", "/join", "/scan", "/connect", "/rescan", "/networks"})
# A person submits a form now and then; a script hammering /connect or /rescan (a driver scan each) gets 429.
POST_LIMIT, POST_WINDOW_SECONDS = 20, 10.0
HTML_BLUEPRINT = "portal"  # the page and its forms; every other route answers JSON
UNAVAILABLE_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class PortalSettings:
    """Where the portal is reachable and which UI it serves."""

    gateway: str = DEFAULT_GATEWAY
    port: int = DEFAULT_PORT
    ui_directory: Path = PACKAGE_UI_DIRECTORY

    @property
    def host(self) -> str:
        """The Host header a browser sends for the portal (no port when it is 80)."""
        return self.gateway if self.port == 80 else f"{self.gateway}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/"

    @property
    def custom_ui(self) -> bool:
        return self.ui_directory != PACKAGE_UI_DIRECTORY

    def is_portal_host(self, host: str) -> bool:
        return host in (self.host, f"{self.gateway}:{self.port}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PortalSettings:
        """Read the balena-compatible variables the daemon passes to gunicorn."""
        env = os.environ if environ is None else environ
        port_text = env.get("PORTAL_LISTENING_PORT") or str(DEFAULT_PORT)
        try:
            port = int(port_text)
        except ValueError as err:
            raise ConfigError(f"PORTAL_LISTENING_PORT: not a port number: {port_text!r}") from err
        ui = env.get("UI_DIRECTORY")
        return cls(
            gateway=env.get("PORTAL_GATEWAY") or DEFAULT_GATEWAY,
            port=port,
            ui_directory=Path(ui).resolve() if ui else PACKAGE_UI_DIRECTORY,
        )


def _default_service() -> PortalService:
    """The daemon's RPC client; imported late so the web package has no hard tie to it at import time."""
    from ..rpc import ControllerClient

    socket_path = os.environ.get("WIFI_CONNECT_SOCKET")
    if not socket_path:
        raise ConfigError("WIFI_CONNECT_SOCKET is not set: the web apps need the daemon's socket path")
    return ControllerClient(socket_path)


def service() -> PortalService:
    """The PortalService of the app handling the current request."""
    return current_app.extensions["wifi_connect.service"]


def settings() -> PortalSettings:
    return current_app.extensions["wifi_connect.settings"]


def error_response(message: str, status: int, field: str | None = None):
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    return jsonify(body), status


def _register_error_handlers(app: Flask) -> None:
    """One mapping from the service's exceptions to HTTP answers, shared by both apps."""

    @app.errorhandler(InputError)
    def input_error(err: InputError):
        return error_response(err.message, 400, err.field)

    @app.errorhandler(BusyError)
    def busy(err: BusyError):
        return error_response(str(err) or "a connection attempt is already running", 409)

    @app.errorhandler(WifiConnectError)
    def unavailable(err: WifiConnectError):
        # The daemon or NetworkManager did not answer: the request may work in a moment.
        if request.blueprint == HTML_BLUEPRINT:  # a person's page: words and a retry, not JSON
            current_app.logger.warning("portal page unavailable: %s", err)
            page = render_template("unavailable.html", retry_seconds=UNAVAILABLE_RETRY_SECONDS)
            return page, 503, {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)}
        return error_response(f"wifi-connect is unavailable: {err}", 503)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        field = "body" if err.code == 413 else None
        return error_response(err.description or err.name, err.code or 500, field)


def _new_app(service_: PortalService) -> Flask:
    app = Flask(__name__, static_folder=None)  # the UI directory is served by the portal blueprint
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.extensions["wifi_connect.service"] = service_
    _register_error_handlers(app)
    return app


def _touch_on_request(app: Flask) -> None:
    """A person's action on the portal cancels the activity timeout and postpones the retry (rate-limited)."""
    last_touch = 0.0

    @app.before_request
    def touch() -> None:
        nonlocal last_touch
        if request.path not in PERSON_PATHS or not settings().is_portal_host(request.host):
            return
        now = time.monotonic()
        if now - last_touch >= TOUCH_INTERVAL_SECONDS:
            last_touch = now
            try:
                service().touch()
            except WifiConnectError:
                current_app.logger.warning("could not tell the daemon about portal activity")


class PostRateLimit:
    """At most ``limit`` POSTs per client address in any ``window`` seconds (per gunicorn worker)."""

    def __init__(self, limit: int = POST_LIMIT, window: float = POST_WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._recent: dict[str, deque[float]] = {}  # bounded by the DHCP range
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(client, deque())
            while recent and now - recent[0] > self.window:
                recent.popleft()
            if len(recent) >= self.limit:
                return False
            recent.append(now)
            return True


def _limit_posts(app: Flask, limiter: PostRateLimit) -> None:
    @app.before_request
    def refuse_floods():
        if request.method == "POST" and not limiter.allow(request.remote_addr or ""):
            response, status = error_response("too many requests: wait a few seconds", 429)
            response.headers["Retry-After"] = str(int(limiter.window))
            return response, status
        return None


def create_portal_app(
    service: PortalService | None = None, portal_settings: PortalSettings | None = None
) -> Flask:
    """The app phones see on gateway:port: portal page, JSON API and captive-portal probes."""
    from . import api, portal, probes

    app = _new_app(service if service is not None else _default_service())
    app.extensions["wifi_connect.settings"] = portal_settings or PortalSettings.from_env()
    _touch_on_request(app)
    _limit_posts(app, PostRateLimit())

    @app.after_request
    def no_store(response):
        # Phones must never cache a hijacked answer or a stale status; static files set their own max-age.
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Probes first: their before_request hook redirects foreign Hosts before any other route runs.
    app.register_blueprint(probes.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(portal.bp)
    return app


def create_control_app(service: PortalService | None = None) -> Flask:
    """The application's local control API (bind it to loopback only: it is not authenticated)."""
    from . import control

    app = _new_app(service if service is not None else _default_service())
    app.register_blueprint(control.bp)
    return app
