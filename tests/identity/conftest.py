"""Fixtures for single sign-on and SCIM: a real OpenID Connect provider, a real DNS server
for domain proofs, and a fixed clock."""

import threading

import pytest
import werkzeug.serving
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer
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


class Zone(BaseResolver):
    """TXT records a test publishes; every other name answers NXDOMAIN."""

    def __init__(self):
        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []

    def publish(self, name: str, value: str) -> None:
        self.records.setdefault(name.lower().rstrip("."), []).append(value)

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


@pytest.fixture(scope="session")
def dns_server():
    """dnslib's DNS server on 127.0.0.1 (UDP, a free port) in a thread for the session."""
    zone = Zone()
    server = DNSServer(
        zone, address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply,-truncated,-error")
    )
    server.start_thread()
    try:
        yield zone, server.server.server_address[1]
    finally:
        server.stop()
        server.server.server_close()


@pytest.fixture
def dns_zone(dns_server, settings):
    """The DNS zone the domain proofs are looked up in (settings.SSO_DNS_RESOLVER points at
    the loopback server); emptied after each test."""
    zone, port = dns_server
    settings.SSO_DNS_RESOLVER = f"127.0.0.1:{port}"
    try:
        yield zone
    finally:
        zone.records.clear()
        zone.queries.clear()


@pytest.fixture
def frozen_clock(monkeypatch):
    """Pages read config.clock.now(): fix it on 3 March 2026, 09:00 UTC."""
    monkeypatch.setattr(clock, "now", lambda: MAR_3_AT)
    return MAR_3_AT
