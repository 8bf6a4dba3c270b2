"""The one way out for HTTP requests to addresses an organization chose (its identity provider,
its webhook endpoints).

An organization's settings are hostile input: an issuer URL could name this server's own
network (a database, a cloud metadata service) to probe it or to make us send a client
secret there. Every such request goes through `fetch`, which:

- accepts https only (`OUTBOUND_ALLOW_LOOPBACK_HTTP`, set by the test settings alone, also
  lets plain http reach a server on this machine's loopback);
- keeps every request on one origin (scheme, host and port), the issuer's;
- resolves the host once, refuses it unless every address is public (no loopback,
  private, link-local, shared/CGNAT, multicast, reserved, unspecified; IPv6 unique-local,
  link-local, IPv4-mapped, NAT64, 6to4 and Teredo are judged by what they carry or refused),
  and connects to that very address (the TLS name and the Host header stay the host's), so
  a DNS answer that changes between the check and the connection changes nothing;
- follows no redirect, times out quickly (connecting, each read, and the whole answer) and
  reads at most `MAX_RESPONSE_BYTES`.

What went wrong goes to the server log; callers show people a generic message.
"""

import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from django.conf import settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10  # each read; the whole answer within TOTAL_TIMEOUT_SECONDS
TOTAL_TIMEOUT_SECONDS = 15
MAX_RESPONSE_BYTES = 512 * 1024  # discovery documents, JWKS, tokens and userinfo are a few KB
DEFAULT_PORTS = {"https": 443, "http": 80}
# Prefixes that carry another address (NAT64) or tunnel to one we cannot judge here.
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class OutboundError(Exception):
    """The request was refused or failed; `str()` is for the server log, not for people."""


class OutboundRefused(OutboundError):
    """Refused before any connection: scheme, origin or address not allowed."""


class OutboundFailed(OutboundError):
    """The connection, the status or the answer failed."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise OutboundFailed("the answer is not JSON") from None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def origin_of(url: str) -> Origin:
    """Scheme, host and port of an absolute http(s) URL; OutboundRefused for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused("not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise OutboundRefused("not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("credentials in the URL")
    return Origin(scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme])


def same_origin(url: str, origin_url: str) -> bool:
    try:
        return origin_of(url) == origin_of(origin_url)
    except OutboundRefused:
        return False


def loopback_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_LOOPBACK_HTTP", False))


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Is `address` one we may connect to on an organization's behalf?"""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_allowed(address.ipv4_mapped)
        if address.sixtofour is not None or address.teredo is not None:
            return False
        if any(address in network for network in NAT64_NETWORKS):
            return False
        if address.is_site_local:
            return False
    if address.is_loopback:
        return loopback_allowed()
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def _resolve(origin: Origin) -> list:
    """Every address the host resolves to now (an IP literal is its own answer)."""
    try:
        infos = socket.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundFailed(f"{origin.host} does not resolve: {exc}") from None
    addresses = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundFailed(f"{origin.host} has no address")
    return addresses


def _checked_address(origin: Origin):
    """The address to connect to: every address of the host must be allowed (a name that
    also resolves to an internal address is refused whichever one we would pick)."""
    addresses = _resolve(origin)
    refused = [str(a) for a in addresses if not address_allowed(a)]
    if refused:
        raise OutboundRefused(f"{origin.host} resolves to addresses we never call: {', '.join(refused)}")
    if origin.scheme == "http" and not all(a.is_loopback for a in addresses):
        raise OutboundRefused("plain http outside loopback")
    return addresses[0]


def _pool(origin: Origin, address) -> urllib3.HTTPConnectionPool:
    """A pool bound to the checked address; TLS verifies the certificate for the host name."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
    if origin.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            str(address),
            origin.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=origin.host,
            assert_hostname=origin.host,
        )
    return urllib3.HTTPConnectionPool(str(address), origin.port, timeout=timeout, retries=False, maxsize=1)


def _read_limited(response, *, started: float) -> bytes:
    """The body, refused past MAX_RESPONSE_BYTES or TOTAL_TIMEOUT_SECONDS (a server that
    drips a byte at a time stays under the per-read timeout)."""
    chunks, size = [], 0
    while chunk := response.read1(64 * 1024):  # what one receive brings, so the clock is checked often
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise OutboundFailed(f"answer over {MAX_RESPONSE_BYTES} bytes")
        if time.monotonic() - started > TOTAL_TIMEOUT_SECONDS:
            raise OutboundFailed(f"answer took over {TOTAL_TIMEOUT_SECONDS} s")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(
    method: str,
    url: str,
    *,
    origin: str,
    headers: dict | None = None,
    form: dict | None = None,
    body: bytes | None = None,
) -> Response:
    """`method` `url` (on `origin`'s scheme, host and port), `form` sent url-encoded, or
    `body` as it is (its Content-Type among `headers`).

    Returns any final status (no redirect is followed); raises OutboundRefused before
    connecting, OutboundFailed after.
    """
    allowed_origin = origin_of(origin)
    target = origin_of(url)
    if target != allowed_origin:
        raise OutboundRefused(f"{url} is not on {origin}")
    if target.scheme != "https" and not loopback_allowed():
        raise OutboundRefused("https only")
    address = _checked_address(target)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_headers = {
        "Host": target.host_header,
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        "User-Agent": "Seatbill",
        **(headers or {}),
    }
    if form is not None:
        if body is not None:
            raise ValueError("a form or a body, not both")
        body = urlencode(form).encode()
        request_headers["Content-Type"] = "application/x-www-form-urlencoded"
    pool = _pool(target, address)
    started = time.monotonic()
    try:
        response = pool.urlopen(
            method,
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            content = _read_limited(response, started=started)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise OutboundFailed(f"{method} {url} via {address}: {exc}") from None
    finally:
        pool.close()
    return Response(
        status=response.status,
        content_type=response.headers.get("Content-Type", ""),
        body=content,
    )


def fetch_ok(method: str, url: str, *, origin: str, **kwargs) -> Response:
    """`fetch` that also refuses any status but 200 (a redirect included)."""
    response = fetch(method, url, origin=origin, **kwargs)
    if response.status != 200:
        raise OutboundFailed(f"{method} {url} answered {response.status}: {response.text[:200]!r}")
    return response
