"""Signing a webhook delivery, and checking one: plain Python (no Django), so a receiver may
copy this file as it is (docs/webhooks.md).

Each delivery carries

    Seatbill-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

`t` is when it was sent (Unix seconds) and each `v1` is the hex HMAC-SHA256, keyed with an
endpoint secret (the whole `whsec_...` string, as UTF-8), of `t`, a period and the raw body:
`f"{t}.".encode() + body`. While a rolled secret's grace period lasts there are two `v1`
values, one per secret; a receiver accepts the delivery when any matches a secret it holds.
Checking `t` against the receiver's clock (within `tolerance` seconds, both ways) refuses a
delivery captured and replayed later.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "Seatbill-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureVerificationError(ValueError):
    """The delivery is not signed by a secret we hold, or was signed too long ago (or ahead)."""


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `{timestamp}.{payload}` keyed with `secret`."""
    signed = f"{int(timestamp)}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """The `Seatbill-Signature` value: `t=...` and one `v1=...` per secret (newest first)."""
    parts = [f"t={int(timestamp)}"]
    parts += [f"{SCHEME}={compute_signature(payload, secret, timestamp)}" for secret in secrets]
    return ",".join(parts)


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureVerificationError("The signature's timestamp is not a number.") from None
        elif name == SCHEME and value:
            signatures.append(value)
    if timestamp is None:
        raise SignatureVerificationError("The signature header has no timestamp (t=).")
    if not signatures:
        raise SignatureVerificationError(f"The signature header has no {SCHEME} signature.")
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str,
    secret: str | Iterable[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery: `payload` is the raw request body (bytes, before any JSON parsing),
    `header` the `Seatbill-Signature` value, `secret` the endpoint's secret (or several, while
    the receiver itself switches secrets). Returns the signature's timestamp; raises
    SignatureVerificationError when no signature matches or the timestamp is more than
    `tolerance` seconds from `now` (default: this machine's clock). `tolerance=0` skips the
    time check (for tests with recorded deliveries only)."""
    timestamp, signatures = _parse(header)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [compute_signature(payload, s, timestamp) for s in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise SignatureVerificationError("No signature matches the payload and the secret.")
    if tolerance > 0:
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance:
            raise SignatureVerificationError(
                f"The signature's timestamp is more than {tolerance} seconds from now."
            )
    return timestamp
