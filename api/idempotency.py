"""`Idempotency-Key` on the API's writes, as Stripe does it.

A client that timed out cannot know whether its purchase went through; it sends the same
request with the same key again and gets the first answer (status and body) back, with
`Idempotent-Replayed: true`, instead of a second purchase. Keys are per organization and kept
24 hours. The same key with another request (method, path or body) is refused with 422
`idempotency_key_reused`; while the first request with a key is still running, another with
that key gets 409 `idempotency_key_in_progress` (retry later).

Every write that creates or changes something takes a key: inviting, changing and
reassigning members, buying seats, changing plan, creating a partner's client, handing it
over, changing billing details. Previews change nothing, and usage ingestion needs none: it is
idempotent by each event's own id (a resent event is counted once).

Answers of 500 and above are not stored: nothing was written (the request's transaction
rolled back), so the key is freed and a retry runs again. Nor is 429: a limit reached says
"later", and replaying it for 24 hours (without its Retry-After) would say "never".
"""

import datetime as dt
import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core import clock
from organizations.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEPT_FOR = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255

PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    location=OpenApiParameter.HEADER,
    description=(
        "Optional, 1 to 255 characters (a UUID is a good choice; else 400 `invalid_idempotency_key`). "
        "Sending the same request with the "
        "same key within 24 hours returns the first answer again (header `Idempotent-Replayed: true`) "
        "instead of doing it twice; the same key with another body is refused with 422 "
        "`idempotency_key_reused`, and while the first is still running with 409 "
        "`idempotency_key_in_progress`."
    ),
)


def _error(status: int, code: str, message: str) -> Response:
    return Response({"code": code, "message": message, "field": None}, status=status)


def request_hash(request) -> str:
    """What makes two requests "the same": method, path and the parsed body (so key order and
    whitespace in the JSON do not matter)."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _claim(*, organization, key: str, fingerprint: str, at: dt.datetime):
    """Insert the key's row, or return the row another request inserted first."""
    IdempotentRequest.objects.filter(organization=organization, created_at__lt=at - KEPT_FOR).delete()
    try:
        with transaction.atomic():
            IdempotentRequest.objects.create(
                organization=organization, key=key, request_hash=fingerprint, created_at=at
            )
        return None
    except IntegrityError:
        # The unique (organization, key) made this insert wait for the other one's
        # transaction: the row is committed now.
        return IdempotentRequest.objects.get(organization=organization, key=key)


def idempotent(handler):
    """Decorate an `ApiView` write method (after `bind`: it needs `self.organization`)."""

    @functools.wraps(handler)
    def run_once(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH:
            return _error(400, "invalid_idempotency_key", f"{HEADER} must be 1 to 255 characters.")
        fingerprint = request_hash(request)
        organization = view.organization
        earlier = _claim(organization=organization, key=key, fingerprint=fingerprint, at=clock.now())
        if earlier is not None:
            if earlier.request_hash != fingerprint:
                return _error(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was used for another request; use a new key for a new request.",
                )
            if earlier.response_status is None:
                return _error(
                    409,
                    "idempotency_key_in_progress",
                    f"A request with this {HEADER} is still running; retry in a moment.",
                )
            return Response(
                earlier.response_body,
                status=earlier.response_status,
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                # The answer the client gets for a refusal (400, 409…) is stored like a success.
                response = view.handle_exception(exc)
        except BaseException:
            IdempotentRequest.objects.filter(organization=organization, key=key).delete()
            raise
        if response.status_code >= 500 or response.status_code == 429:
            IdempotentRequest.objects.filter(organization=organization, key=key).delete()
            return response
        body = None if response.data is None else json.loads(JSONRenderer().render(response.data))
        IdempotentRequest.objects.filter(organization=organization, key=key).update(
            response_status=response.status_code, response_body=body
        )
        return response

    return run_once
