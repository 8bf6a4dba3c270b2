"""Brute-force and flood limits: failed logins, password resets, invitations, bad credentials.

Counted in the cache (Redis when REDIS_URL is set; every web process shares it) by
django-ratelimit's counter (`django_ratelimit.core.get_usage`): per limit and key, a fixed
window of the limit's length, its phase set by the key, so `retry_after` is exactly when
the window ends. Keys are hashed before they reach the cache (no e-mail address in Redis).
The limits are settings.THROTTLES: {name: (count, seconds)}.

- Password login: a backend placed first in AUTHENTICATION_BACKENDS refuses, without
  checking the password, an account or a client address that failed `count` times in the
  window; Django's `user_login_failed` signal counts each failure. Any username counts, an
  existing one or not, so a lockout tells nothing about which accounts exist. When an
  account locks, the owners of its organizations are e-mailed (`account_lock_notify`).
- Password reset requests, per address and per e-mail asked for; invitations, per address
  and per organization: every request counts.
- Bearer credentials (API keys, SCIM tokens): only failures count, per address.
- API requests made with a key: a token bucket per key and one per organization, both taken
  in one Redis round trip (`api_request`, below; settings.API_RATE_LIMITS).

If the cache can't be reached the limits are not applied (logged): people can still log in.
"""

import datetime as dt
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage

from core import clock

logger = logging.getLogger(__name__)


class Throttled(Exception):
    """Refused for now; `retry_after` seconds until it is allowed again, `message` says so."""

    def __init__(self, *, retry_after: int, message: str):
        super().__init__(message)
        self.retry_after = retry_after
        self.message = message


@dataclass(frozen=True)
class Count:
    count: int
    limit: int
    retry_after: int  # seconds until the window ends

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


def retry_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ngettext("Try again in %(count)s minute.", "Try again in %(count)s minutes.", minutes) % {
        "count": minutes
    }


def client_address(request) -> str:
    """The address the request came from: REMOTE_ADDR, or with TRUSTED_PROXY_HOPS reverse
    proxies in front, the address the outermost of them saw (X-Forwarded-For, counted from
    the right: the entries to its left are the client's to write). IPv6 by its /64, the
    block one host is usually given."""
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def _count(name: str, key: str, *, increment: bool) -> Count:
    limit, seconds = settings.THROTTLES[name]
    try:
        usage = get_usage(
            None,
            group=f"seatbill.{name}",
            key=lambda _group, _request: key,
            rate=(limit, seconds),
            increment=increment,
        )
    except (redis.RedisError, OSError):
        logger.warning("Throttle %s not applied: the cache does not answer", name, exc_info=True)
        return Count(0, limit, 0)
    if usage is None or usage["time_left"] < 0:  # limits off, or the cache failed the count
        return Count(0, limit, 0)
    return Count(usage["count"], limit, max(1, usage["time_left"]))


def _refuse_beyond(counts: list[Count], message: str) -> None:
    exceeded = [count for count in counts if count.exceeded]
    if exceeded:
        retry_after = max(count.retry_after for count in exceeded)
        raise Throttled(retry_after=retry_after, message=f"{message} {retry_message(retry_after)}")


# Password login -------------------------------------------------------------------------


def _account_key(username: str) -> str:
    return username.strip().lower()


def login_lock_message() -> str:
    return _("Too many failed sign-ins: signing in with a password is paused for a while, for your safety.")


def _login_lock(retry_after: int) -> Throttled:
    return Throttled(retry_after=retry_after, message=f"{login_lock_message()} {retry_message(retry_after)}")


class LoginLockoutBackend:
    """First in AUTHENTICATION_BACKENDS: refuses a password sign-in for an account or an address
    that failed too often, before any password is checked (the next backends never run).

    No get_user(): it never signs anyone in, and the test client's force_login must not pick it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not username:
            return None
        account = _count("login_account", _account_key(username), increment=False)
        address = _count("login_address", client_address(request), increment=False)
        locked = [count for count in (account, address) if count.count >= count.limit]
        if locked:
            request.login_lock = _login_lock(max(count.retry_after for count in locked))
            raise PermissionDenied("Too many failed sign-ins.")
        return None


def login_failed(sender, credentials, request=None, **kwargs) -> None:
    """`user_login_failed`: count the failure against the account and the address; lock at the
    limit (this answer already says so), and tell the owners when an account locks."""
    username = credentials.get("username")
    if request is None or not username or getattr(request, "login_lock", None) is not None:
        return
    address_key = client_address(request)
    account = _count("login_account", _account_key(username), increment=True)
    address = _count("login_address", address_key, increment=True)
    reached = [count for count in (account, address) if count.count >= count.limit]
    if reached:
        request.login_lock = _login_lock(max(count.retry_after for count in reached))
    if account.count == account.limit:  # exactly one failure locks it, whatever runs at once
        from .services import account_lock_notify

        at = clock.now()
        account_lock_notify(
            username=username,
            address=address_key,
            failures=account.count,
            until=at + dt.timedelta(seconds=account.retry_after),
            at=at,
        )


# Password reset and invitations -----------------------------------------------------------


def password_reset_requested(request, *, email: str) -> None:
    """Count a reset request from this address for this e-mail; Throttled beyond the limits.
    The same answer whether the e-mail has an account or not."""
    _refuse_beyond(
        [
            _count("password_reset_address", client_address(request), increment=True),
            _count("password_reset_email", email.strip().lower(), increment=True),
        ],
        _("Too many password reset requests."),
    )


def invitation_sending(request, *, organization) -> None:
    """Count an invitation e-mail (new or sent again) from this address and organization;
    Throttled beyond the limits."""
    _refuse_beyond(
        [
            _count("invitations_address", client_address(request), increment=True),
            _count("invitations_organization", str(organization.pk), increment=True),
        ],
        _("Too many invitations sent in a short time."),
    )


# Bearer credentials ------------------------------------------------------------------------


def credential_failed(request) -> None:
    """Count a refused API key or SCIM token from this address; Throttled beyond the limit.
    Called on failures only: a valid credential costs no trip to the cache."""
    _refuse_beyond(
        [_count("credential_failures_address", client_address(request), increment=True)],
        _("Too many requests with an unknown or revoked key from your address."),
    )


# API request limits ------------------------------------------------------------------------
#
# Every request made with an API key takes a token from two buckets: the key's and its
# organization's (all its keys together). A bucket holds `burst` tokens and refills `rate` a
# second (settings.API_RATE_LIMITS); an empty one refuses with Retry-After until a token is
# back. Both buckets are read, refilled and taken from in one Lua script run by Redis: one
# round trip a request, whatever its size (a 1,000-event ingestion batch is one request), and
# atomic across web processes, on Redis's own clock. Without Redis (the demo) the buckets
# live in the process. If Redis can't be reached, the limits are not applied (logged).

_BUCKETS_LUA = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local allowed, wait, remaining, reset, limit = 1, 0, nil, 0, 0
local tokens = {}
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local held, at = tonumber(state[1]), tonumber(state[2])
  if held == nil then held, at = burst, now end
  held = math.min(burst, held + math.max(0, now - at) * rate / 1000)
  tokens[i] = held
  if held < 1 then
    allowed = 0
    wait = math.max(wait, math.ceil((1 - held) * 1000 / rate))
  end
end
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local held = tokens[i]
  if allowed == 1 then held = held - 1 end
  redis.call('HSET', KEYS[i], 'tokens', tostring(held), 'at', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst * 1000 / rate) + 1000)
  local left = math.max(0, math.floor(held))
  if remaining == nil or left < remaining then
    remaining, limit = left, burst
    reset = math.ceil((burst - held) * 1000 / rate)
  end
end
return {allowed, wait, remaining, limit, reset}
"""


@dataclass(frozen=True)
class RateLimit:
    """Where the tighter of a request's buckets stands after it: the RateLimit headers."""

    limit: int  # its burst
    remaining: int  # whole tokens left
    reset: int  # seconds until it is full again

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


class RateLimited(Throttled):
    """An API key's or its organization's bucket is empty: 429 with Retry-After."""

    code = "rate_limited"

    def __init__(self, *, retry_after: int, message: str, rate_limit: RateLimit):
        super().__init__(retry_after=retry_after, message=message)
        self.rate_limit = rate_limit


_script = None
_local_buckets: dict[str, tuple[float, float]] = {}  # the demo's buckets: key -> (tokens, at)
_local_lock = threading.Lock()


def _redis_client():
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    return client_of(write=True) if client_of else None


def _take_locally(buckets: list[tuple[str, float, int]]) -> list[int]:
    now = time.monotonic()
    with _local_lock:
        held = []
        for name, rate, burst in buckets:
            tokens, at = _local_buckets.get(name, (burst, now))
            held.append(min(burst, tokens + (now - at) * rate))
        allowed = all(tokens >= 1 for tokens in held)
        wait = max(
            (
                math.ceil((1 - tokens) * 1000 / rate)
                for tokens, (_n, rate, _b) in zip(held, buckets, strict=True)
                if tokens < 1
            ),
            default=0,
        )
        tightest = None
        for tokens, (name, rate, burst) in zip(held, buckets, strict=True):
            tokens = tokens - 1 if allowed else tokens
            _local_buckets[name] = (tokens, now)
            left = max(0, math.floor(tokens))
            if tightest is None or left < tightest[0]:
                tightest = (left, burst, math.ceil((burst - tokens) * 1000 / rate))
        return [int(allowed), wait, *tightest]


def api_request(*, key_id: int, organization_id: int) -> RateLimit | None:
    """Take a token from the key's bucket and its organization's; RateLimited when either is
    empty (nothing is taken then). None when Redis does not answer."""
    limits = settings.API_RATE_LIMITS
    buckets = [
        (cache.make_key(f"api_rate:key:{key_id}"), *limits["key"]),
        (cache.make_key(f"api_rate:organization:{organization_id}"), *limits["organization"]),
    ]
    global _script
    try:
        client = _redis_client()
        if client is None:
            result = _take_locally(buckets)
        else:
            if _script is None:
                _script = client.register_script(_BUCKETS_LUA)
            args = [value for _name, rate, burst in buckets for value in (rate, burst)]
            result = _script(keys=[name for name, _rate, _burst in buckets], args=args, client=client)
    except (redis.RedisError, OSError):
        logger.warning("API rate limits not applied: the cache does not answer", exc_info=True)
        return None
    allowed, wait_ms, remaining, limit, reset_ms = (int(value) for value in result)
    rate_limit = RateLimit(limit=limit, remaining=remaining, reset=max(0, -(-reset_ms // 1000)))
    if not allowed:
        retry_after = max(1, -(-wait_ms // 1000))
        raise RateLimited(
            retry_after=retry_after,
            message=ngettext(
                "Too many requests for this API key or organization. Try again in %(count)s second.",
                "Too many requests for this API key or organization. Try again in %(count)s seconds.",
                retry_after,
            )
            % {"count": retry_after},
            rate_limit=rate_limit,
        )
    return rate_limit
