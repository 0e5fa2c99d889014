"""Fixtures for the web apps: a fresh app per test over an in-memory PortalService."""

from __future__ import annotations

import pytest
from wifi_connect.web import PortalSettings, create_control_app, create_portal_app
from wifi_connect.web.control import SetupNetwork

from tests.wifi_connect.web.fake_portal_service import FakePortalService
from tests.wifi_connect.web.wsgi_client import WsgiClient

GATEWAY = "localhost"  # the test client's default Host: requests reach the portal as after DNS hijack


@pytest.fixture
def fake_service() -> FakePortalService:
    return FakePortalService(settle_seconds=0.0)


@pytest.fixture
def portal_app(fake_service):
    return create_portal_app(fake_service, PortalSettings(gateway=GATEWAY))


@pytest.fixture
def client(portal_app) -> WsgiClient:
    """A client addressing the portal by its gateway Host."""
    return WsgiClient(portal_app)


@pytest.fixture
def control_app(fake_service):
    return create_control_app(fake_service, SetupNetwork("WiFi Connect", "portal-secret-42"))


@pytest.fixture
def control_client(control_app) -> WsgiClient:
    return WsgiClient(control_app)
