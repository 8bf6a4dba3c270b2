"""Issue 19, finding 4: no request forgery from the SSO settings.

Every request to an organization's provider goes through core/outbound.py. These tests
send no traffic beyond loopback: addresses outside it are answered by a stub resolver,
and they assert that no connection is even attempted (every `socket.connect` is counted).
"""

import datetime as dt
import json
import socket
import threading
from contextlib import contextmanager

import pytest
import werkzeug.serving
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

from core import outbound
from seats.identity import oidc
from seats.models import SsoConnection

from .support import connect_sso, organization_with_seats, provider_user, sign_in

pytestmark = pytest.mark.django_db
GENERIC = "Could not reach your identity provider at {issuer}; check the address."


@contextmanager
def loopback_server(handler):
    """A WSGI app on 127.0.0.1 (a free port); yields (base URL, the requests it received)."""
    received = []

    @Request.application
    def app(request):
        received.append({"path": request.path, "host": request.host, "body": request.get_data(as_text=True)})
        return handler(request)

    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def discovery_document(issuer: str, **overrides) -> dict:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "id_token_signing_alg_values_supported": ["RS256"],
        **overrides,
    }


@pytest.fixture
def connections(monkeypatch):
    """Every socket connection attempted in this test, as (address, port)."""
    attempts = []
    real_connect = socket.socket.connect

    def counting_connect(sock, address):
        attempts.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", counting_connect)
    return attempts


@pytest.fixture
def resolver(monkeypatch):
    """Answers chosen names with chosen addresses (a list per call, for rebinding); every
    other name goes to the real resolver. Records each lookup of a chosen name."""
    answers: dict[str, list[list[str]]] = {}
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


def save_settings(client, organization, issuer):
    return client.post(
        f"/o/{organization.slug}/identity/sso/",
        {"issuer": issuer, "client_id": "abc", "client_secret": "the-client-secret"},
    )


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["::1"],
        ["fd00::1"],
        ["::ffff:10.0.0.5"],
        ["fe80::1"],
        ["100.64.0.1"],
        ["224.0.0.1"],
        ["0.0.0.0"],
        ["64:ff9b::a00:5"],
        ["93.184.216.34", "192.168.1.10"],  # a public answer does not excuse a private one
    ],
)
def test_internal_addresses_are_refused_before_any_connection(
    client, settings, connections, resolver, frozen_clock, addresses
):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False
    answers, lookups = resolver
    answers["idp.attacker.example"] = [addresses]
    organization, _subscription, owner = organization_with_seats()
    client.force_login(owner)

    response = save_settings(client, organization, "https://idp.attacker.example")

    assert response.status_code == 400
    assert GENERIC.format(issuer="https://idp.attacker.example") in response.content.decode()
    assert lookups == ["idp.attacker.example"]
    assert connections == []
    assert not SsoConnection.objects.filter(organization=organization).exists()


def test_loopback_and_plain_http_are_refused_without_the_test_allowance(
    client, settings, connections, oidc_provider, frozen_clock
):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False
    organization, _subscription, owner = organization_with_seats()
    client.force_login(owner)
    https_loopback = oidc_provider.replace("http://", "https://")

    for issuer in (oidc_provider, https_loopback, "https://localhost:8443"):
        response = save_settings(client, organization, issuer)
        assert response.status_code == 400
        assert GENERIC.format(issuer=issuer) in response.content.decode()

    assert connections == []
    assert not SsoConnection.objects.filter(organization=organization).exists()


def test_errors_do_not_tell_an_open_port_from_a_closed_one(client, frozen_clock):
    """The old form echoed the fetch error ("Connection refused", statuses, bodies): a port
    scanner of the server's own network. Now every failure reads the same."""
    organization, _subscription, owner = organization_with_seats()
    client.force_login(owner)
    closed = socket.socket()  # bound but not listening: connecting to it is refused
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]

    with (
        closed,
        loopback_server(lambda request: Response("internal admin page", status=403)) as (
            open_url,
            _received,
        ),
    ):
        pages = {
            url: save_settings(client, organization, url).content.decode()
            for url in (open_url, f"http://127.0.0.1:{closed_port}")
        }

    for url, page in pages.items():
        assert GENERIC.format(issuer=url) in page
        for leak in ("refused", "Errno", "403", "internal admin page", "Max retries"):
            assert leak not in page, (url, leak)


def test_every_endpoint_must_be_on_the_issuers_origin(client, frozen_clock):
    organization, _subscription, owner = organization_with_seats()
    client.force_login(owner)
    documents = {}

    def discovery(request):
        return Response(json.dumps(documents["current"]), content_type="application/json")

    with loopback_server(discovery) as (issuer, _received):
        port = int(issuer.rsplit(":", 1)[1])
        for key, elsewhere in (
            ("token_endpoint", f"http://127.0.0.2:{port}/token"),
            ("jwks_uri", f"http://127.0.0.1:{port + 1}/jwks"),
            ("userinfo_endpoint", "http://169.254.169.254/latest/meta-data/"),
            ("authorization_endpoint", f"https://127.0.0.1:{port}/authorize"),
        ):
            documents["current"] = discovery_document(issuer, **{key: elsewhere})
            response = save_settings(client, organization, issuer)
            assert response.status_code == 400, key
            assert f"points {key} to another host" in response.content.decode()
            assert elsewhere not in response.content.decode()

    assert not SsoConnection.objects.filter(organization=organization).exists()


def test_a_stored_endpoint_off_the_issuers_host_is_never_called(
    client, oidc_provider, dns_zone, frozen_clock
):
    """A connection saved before the check (its token endpoint on another host): the sign-in
    fails with the generic message and the client secret goes nowhere."""
    organization, _subscription, _owner = organization_with_seats(included_seats=3)
    connect_sso(organization, oidc_provider, dns_zone)
    provider_user(oidc_provider, "tess-sub", email="tess@example.com", email_verified=True)

    with loopback_server(lambda request: Response("{}", content_type="application/json")) as (
        elsewhere,
        received,
    ):
        SsoConnection.objects.filter(organization=organization).update(token_endpoint=f"{elsewhere}/steal")
        response = sign_in(client, oidc_provider, organization.slug, "tess-sub")

    assert response.status_code == 502
    assert GENERIC.format(issuer=oidc_provider) in response.content.decode()
    assert received == []
    assert "_auth_user_id" not in client.session


def test_the_checked_address_is_the_one_connected_to(client, resolver, connections, frozen_clock):
    """DNS rebinding: the name answers loopback (allowed in tests) the first time and an
    internal address after. We resolve once and connect to that very address, sending the
    name in the Host header."""
    answers, lookups = resolver
    documents = {}

    def serve(request):
        if request.path not in documents:
            return Response("", status=404)
        return Response(documents[request.path], content_type="application/json")

    with loopback_server(serve) as (server_url, received):
        port = int(server_url.rsplit(":", 1)[1])
        issuer = f"http://idp.rebinding.example:{port}"
        documents["/.well-known/openid-configuration"] = json.dumps(discovery_document(issuer))
        answers["idp.rebinding.example"] = [["127.0.0.1"], ["10.0.0.5"]]

        discovery = oidc.discovery_fetch(issuer=issuer)

    assert discovery["token_endpoint"] == f"{issuer}/token"
    assert lookups == ["idp.rebinding.example"]
    assert connections == [("127.0.0.1", port)]
    assert [(r["path"], r["host"]) for r in received] == [
        ("/.well-known/openid-configuration", f"idp.rebinding.example:{port}")
    ]


def test_redirects_are_not_followed_and_answers_are_size_limited(client, frozen_clock):
    organization, _subscription, owner = organization_with_seats()
    client.force_login(owner)
    with loopback_server(lambda request: Response("{}")) as (target, target_received):
        with loopback_server(
            lambda request: Response(
                "", status=302, headers={"Location": f"{target}/.well-known/openid-configuration"}
            )
        ) as (redirecting, _received):
            response = save_settings(client, organization, redirecting)
            assert response.status_code == 400
            assert GENERIC.format(issuer=redirecting) in response.content.decode()
        assert target_received == []

    huge = " " * (outbound.MAX_RESPONSE_BYTES + 1)
    with loopback_server(lambda request: Response(huge, content_type="application/json")) as (
        issuer,
        _received,
    ):
        with pytest.raises(outbound.OutboundFailed, match="answer over"):
            outbound.fetch("GET", f"{issuer}/.well-known/openid-configuration", origin=issuer)


def _certificate(tmp_path, name: str):
    """A self-signed certificate for `name` (its own CA), as (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


def test_https_to_the_pinned_address_still_verifies_the_hosts_certificate(
    tmp_path, monkeypatch, settings, resolver, connections
):
    """The connection goes to the checked address, yet TLS sends the host name (SNI) and
    checks the certificate against it: a certificate for another name is refused."""
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = True  # loopback stands in for a public address here
    answers, _lookups = resolver
    answers["idp.tls.example"] = [["127.0.0.1"]]
    answers["other.tls.example"] = [["127.0.0.1"]]
    cert_file, key_file = _certificate(tmp_path, "idp.tls.example")
    monkeypatch.setattr(outbound.certifi, "where", lambda: cert_file)
    received = []

    @Request.application
    def app(request):
        received.append(request.host)
        return Response('{"ok": true}', content_type="application/json")

    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, app, threaded=True, ssl_context=(cert_file, key_file)
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        port = server.server_port
        good = f"https://idp.tls.example:{port}"
        assert outbound.fetch_ok("GET", f"{good}/x", origin=good).json() == {"ok": True}
        wrong = f"https://other.tls.example:{port}"
        with pytest.raises(outbound.OutboundFailed):
            outbound.fetch("GET", f"{wrong}/x", origin=wrong)
    finally:
        server.shutdown()
        server.server_close()

    assert received == [f"idp.tls.example:{port}"]
    assert connections == [("127.0.0.1", port), ("127.0.0.1", port)]
