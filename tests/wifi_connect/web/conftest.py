"""Fixtures for the web apps: a fresh app per test over an in-memory PortalService."""

from __future__ import annotations

import pytest
from wifi_connect.web import PortalSettings, create_control_app, create_portal_app

from tests.wifi_connect.web.fake_portal_service import FakePortalService

GATEWAY = "localhost"  # the test client's default Host: requests reach the portal as after DNS hijack


@pytest.fixture
def fake_service() -> FakePortalService:
    return FakePortalService(settle_seconds=0.0)


@pytest.fixture
def portal_app(fake_service):
    app = create_portal_app(fake_service, PortalSettings(gateway=GATEWAY))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(portal_app):
    """A client addressing the portal by its gateway Host."""
    return portal_app.test_client()


@pytest.fixture
def control_client(fake_service):
    app = create_control_app(fake_service)
    app.config["TESTING"] = True
    return app.test_client()
