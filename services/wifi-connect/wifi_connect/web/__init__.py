"""wifi-connect's HTTP apps, built by factories from validated values (bottle, SimpleTemplate).

``create_portal_app(service, settings)``: what phones see on gateway:port (page, JSON API, OS probes),
served by gunicorn with ``web.worker.PortalWorker`` in a process forked from the daemon
(``web.server.ForkedPortalServer``); its ``service`` is ``rpc.ControllerClient``.
``create_control_app(service)``: the application's local API, served in the daemon itself on loopback;
its ``service`` is the controller.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import bottle

from ..config import Config
from ..errors import BusyError, InputError, WifiConnectError
from ..ports import PortalService
from . import i18n

if TYPE_CHECKING:
    from .control import SetupNetwork

log = logging.getLogger(__name__)

# A /connect body is a few short fields; anything bigger is a mistake or an attack (HTTP 413).
MAX_BODY_BYTES = 16 * 1024
PACKAGE_UI_DIRECTORY = Path(__file__).resolve().parent.parent / "ui"
TEMPLATE_DIRECTORY = Path(__file__).resolve().parent / "templates"
# A person submits a form now and then; a script hammering /connect or /rescan (a driver scan each) gets 429.
POST_LIMIT, POST_WINDOW_SECONDS = 20, 10.0
UNAVAILABLE_RETRY_SECONDS = 5
# A person's progress in the form (a choice sent, an attempt submitted). Page views, probes and reads do
# not count: a phone (or a stranger) that merely polls the portal must not hold the device offline.
PERSON_ACTIONS = frozenset({"/join", "/scan", "/connect", "/rescan"})
# The daemon only needs to know someone is there, not every request: one touch per worker per second.
TOUCH_INTERVAL_SECONDS = 1.0
JSON_TYPE = "application/json"
# On every portal answer: only the portal's own files run or load (no inline script or style, no other
# origin; a UI_DIRECTORY replacement must follow the same rule), no framing (clickjacking of the form),
# no MIME sniffing, and no Referer carrying the portal's URLs to other origins.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),  # not no-referrer: that makes form posts send "Origin: null"
)


@dataclass(frozen=True, slots=True)
class PortalSettings:
    """Where the portal is reachable and which UI it serves (from ``config.Config``, validated there)."""

    gateway: str
    port: int = 80
    ui_directory: Path = PACKAGE_UI_DIRECTORY

    @property
    def host(self) -> str:
        """The Host header a browser sends for the portal (no port when it is 80)."""
        return self.gateway if self.port == 80 else f"{self.gateway}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/"

    @property
    def origin(self) -> str:
        """The portal's web origin (RFC 6454), as browsers send it in ``Origin``."""
        return f"http://{self.host}"

    @property
    def custom_ui(self) -> bool:
        return self.ui_directory != PACKAGE_UI_DIRECTORY

    def is_portal_host(self, host: str) -> bool:
        return host in (self.host, f"{self.gateway}:{self.port}")

    @classmethod
    def from_config(cls, config: Config) -> PortalSettings:
        return cls(str(config.portal_gateway), config.portal_listening_port,
                   config.ui_directory or PACKAGE_UI_DIRECTORY)


def request_host() -> str:
    """The Host the client asked for (HTTP/1.0 clients may send none)."""
    environ = bottle.request.environ
    return environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"


def json_response(body: object, status: int = 200, **headers: str) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(json.dumps(body, ensure_ascii=False), status,
                               {"Content-Type": JSON_TYPE, **headers})


def error_response(message: str, status: int, field: str | None = None,
                   **headers: str) -> bottle.HTTPResponse:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    return json_response(body, status, **headers)


def read_body() -> bytes:
    """The request body, at most MAX_BODY_BYTES (else 413), also when it is chunked."""
    if bottle.request.content_length > MAX_BODY_BYTES:
        raise error_response(f"the request body is larger than {MAX_BODY_BYTES} bytes", 413, "body")
    data = bottle.request.body.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise error_response(f"the request body is larger than {MAX_BODY_BYTES} bytes", 413, "body")
    return data


def form_fields() -> dict[str, str]:
    """An urlencoded or multipart form as text (bottle hands out latin-1 strings; browsers send UTF-8)."""
    read_body()  # size check first; bottle caches the body for ``forms``
    forms = bottle.request.forms.decode("utf-8")
    return {key: forms.get(key, "") for key in forms}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ("null" if url else "")


# One list, kept: bottle caches compiled templates by (lookup id, name), so a new list per call would
# compile every page again on every request and keep each copy.
TEMPLATE_LOOKUP = [str(TEMPLATE_DIRECTORY)]


def render(name: str, **values: object) -> str:
    return bottle.template(name, template_lookup=TEMPLATE_LOOKUP, **values)


class ServiceErrors:
    """Bottle plugin: one mapping from the service's exceptions to HTTP answers, shared by both apps.

    Routes declared with ``html=True`` are a person's page: when the daemon does not answer they get
    words and a retry instead of JSON."""

    name = "wifi_connect_errors"
    api = 2

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        html = bool(route.config.get("html"))

        @functools.wraps(callback)
        def wrapper(*args: object, **kwargs: object) -> object:
            try:
                return callback(*args, **kwargs)
            except InputError as err:
                return error_response(err.message, 400, err.field)
            except BusyError as err:
                return error_response(str(err) or "a connection attempt is already running", 409)
            except WifiConnectError as err:
                # The daemon or NetworkManager did not answer: the request may work in a moment.
                if html:
                    log.warning("portal page unavailable: %s", err)
                    t = i18n.for_header(bottle.request.get_header("Accept-Language"))
                    page = render("unavailable", retry_seconds=UNAVAILABLE_RETRY_SECONDS, t=t, lang=t.lang)
                    return bottle.HTTPResponse(page, 503, {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)})
                return error_response(f"wifi-connect is unavailable: {err}", 503)

        return wrapper


def _json_error_page(err: bottle.HTTPError) -> str:
    """bottle's own errors (404, 405, 413, 500) as ``{"error", "field"?}`` instead of an HTML page."""
    bottle.response.content_type = JSON_TYPE
    body = {"error": str(err.body or err.status_line)}
    if err.status_code == 413:
        body["field"] = "body"
    if err.status_code >= 500 and err.exception is not None:
        log.error("request failed: %s", err.exception, exc_info=err.exception)
        body["error"] = "internal error"
    return json.dumps(body)


def new_app(service: PortalService) -> bottle.Bottle:
    app = bottle.Bottle()
    app.config["json.enable"] = False  # every JSON answer goes through json_response
    app.config["wifi_connect.service"] = service
    app.default_error_handler = _json_error_page
    app.install(ServiceErrors())
    return app


class PostRateLimit:
    """At most ``limit`` POSTs per client address in any ``window`` seconds (per web worker)."""

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


def create_portal_app(service: PortalService, settings: PortalSettings) -> bottle.Bottle:
    """The app phones see on gateway:port: portal page, JSON API and captive-portal probes."""
    from . import api, portal, probes

    app = new_app(service)
    limiter = PostRateLimit()

    @app.hook("before_request")
    def refuse_cross_site_posts() -> None:
        """A page on another origin must not make a visitor's browser change the device's WiFi: every
        browser sends Origin (or at least Referer) with a POST; a client that sends neither is no browser."""
        if bottle.request.method != "POST":
            return
        origin = bottle.request.get_header("Origin") or _origin_of(bottle.request.get_header("Referer", ""))
        if origin and origin != settings.origin:
            raise error_response("cross-site request refused: post from the portal's own page", 403)

    @app.hook("before_request")
    def refuse_floods() -> None:
        if bottle.request.method == "POST" and not limiter.allow(bottle.request.remote_addr or ""):
            raise error_response("too many requests: wait a few seconds", 429,
                                 **{"Retry-After": str(int(limiter.window))})

    last_touch = 0.0

    @app.hook("before_request")
    def touch() -> None:
        """A person's progress cancels the activity timeout and defers the retry (bounded by the daemon)."""
        nonlocal last_touch
        request = bottle.request
        if request.method != "POST" or request.path not in PERSON_ACTIONS:
            return
        if not settings.is_portal_host(request_host()):
            return
        now = time.monotonic()
        if now - last_touch >= TOUCH_INTERVAL_SECONDS:
            last_touch = now
            try:
                service.touch()
            except WifiConnectError:
                log.warning("could not tell the daemon about a person's progress on the portal")

    @app.hook("after_request")
    def no_store_and_lock_down() -> None:
        # Phones must never cache a hijacked answer or a stale status; static files set their own max-age.
        if "Cache-Control" not in bottle.response.headers:
            bottle.response.set_header("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS:
            bottle.response.set_header(name, value)

    probes.install(app, service, settings)  # first: its hook sends foreign Hosts to the portal
    api.install(app, service)
    portal.install(app, service, settings)
    return app


def create_control_app(service: PortalService, setup_network: SetupNetwork | None = None) -> bottle.Bottle:
    """The application's local control API (loopback only: it is not authenticated). With
    ``setup_network`` it also serves ``GET /setup-qr.svg``."""
    from . import control

    app = new_app(service)
    control.install(app, service, setup_network)
    return app
