"""Fixtures for single sign-on and SCIM: a real OpenID Connect provider and a fixed clock (the
DNS server for domain proofs is in tests/conftest.py: partners and roles tests prove domains too)."""

import threading

import pytest
import werkzeug.serving
from oidc_provider_mock import app as oidc_provider_app

from config import clock

from .support import MAR_3_AT


@pytest.fixture(scope="session")
def oidc_provider():
    """oidc-provider-mock (a real OpenID Connect provider: authorization code flow, RS256 ID
    tokens, JWKS, userinfo) served on 127.0.0.1 by werkzeug in a thread for the session."""
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, oidc_provider_app(require_nonce=True), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def frozen_clock(monkeypatch):
    """Pages read config.clock.now(): fix it on 3 March 2026, 09:00 UTC."""
    monkeypatch.setattr(clock, "now", lambda: MAR_3_AT)
    return MAR_3_AT
