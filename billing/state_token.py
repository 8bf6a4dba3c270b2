"""The state token: what a preview's amounts depended on, signed, and checked at confirmation.

Every preview (plan change, seats, a partner's handover or handback) hands its page a token
of the state it was computed from; confirming recomputes the token under the subscription's
lock and refuses with `PreviewStale` when it differs, so a change made meanwhile (seats
bought, a renewal run, credit used, the agreement changed, a new day) never charges an
amount nobody reviewed. The token has no expiry of its own: the billing date is part of
every state, so a token stops matching at the organization's midnight.

The token is an HMAC of the state under the project's SECRET_KEY (`salted_hmac`, the
primitive under `django.core.signing`): a tampered token never matches, and, unlike a plain
hash, it can't be used to guess parts of the state a reader does not see (a partner's
credit balance). It is hex, 32 characters, because the pages and the API carry it as such
(at most 64); a `Signer` value (`value:base64`) is neither.

This module sits below `services` (which check tokens) and `preview` (which hands them
out), so both can use it.
"""

import json
from collections.abc import Sequence

from django.utils.crypto import constant_time_compare, salted_hmac

from organizations.errors import RuleViolation

_SALT = "billing.state_token"
_LENGTH = 32

STALE_MESSAGE = (
    "Something changed since you reviewed this (seats, plan, credit or the date). "
    "Review the new amounts and confirm again."
)


class PreviewStale(RuleViolation):
    code = "preview_stale"


def state_token_sign(state: Sequence) -> str:
    """The token of `state`: the values a preview's amounts depend on, in a fixed order
    (ids, quantities, balances, dates; lists and tuples of them).

    Values are read as JSON, anything else as its `str`, so a value reads the same whether it
    came from the database or from memory (`Agreement.INTERNAL` and "internal": `repr` tells
    them apart, so a caller holding a just-created partner link got a token no confirmation
    matched)."""
    value = json.dumps(list(state), default=str, separators=(",", ":"))
    return salted_hmac(_SALT, value, algorithm="sha256").hexdigest()[:_LENGTH]


def state_token_check(
    *, expected_token: str | None, current_token: str, message: str = STALE_MESSAGE
) -> None:
    """Refuse a confirmation whose preview was of another state: `current_token` is the token
    of the state now, read under the lock that keeps it still. No expected token: nothing to
    compare (a confirmation made without a preview)."""
    if expected_token and not constant_time_compare(current_token, expected_token):
        raise PreviewStale(message)
