"""Fixtures for single sign-on and SCIM: a real OpenID Connect provider; the clock on 3 March 2026."""

import threading

import pytest
import werkzeug.serving
from oidc_provider_mock import app as oidc_provider_app

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
def clock_start():
    """The identity tests' organizations subscribe on 1 March 2026; their pages are read on the 3rd."""
    return MAR_3_AT
