"""Whether the EU's VIES service knows a VAT ID, behind a small interface.

Seatbill runs offline by default: `OfflineViesClient` answers "format valid, not verified"
for every VAT ID that passed core.tax_ids, and documents say so. A client that asks VIES
(its SOAP or REST service, through core.outbound) implements `ViesClient` and is installed
with `use_vies_client` at start-up; nothing else changes. The answer and its date are
stored with the organization and copied onto every document issued after it.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

FORMAT_VALID = "format_valid"  # passed the offline check only
VERIFIED = "verified"  # VIES answered: valid
NOT_FOUND = "not_found"  # VIES answered: not a valid VAT ID


@dataclass(frozen=True)
class ViesResult:
    status: str  # FORMAT_VALID, VERIFIED or NOT_FOUND
    checked_on: dt.date


class ViesClient(Protocol):
    def check(self, vat_id: str, *, on: dt.date) -> ViesResult:
        """`vat_id` is prefixed and compact ("DK13585628"); `on` the date of the check."""


class OfflineViesClient:
    def check(self, vat_id: str, *, on: dt.date) -> ViesResult:
        return ViesResult(FORMAT_VALID, on)


_client: ViesClient = OfflineViesClient()


def vies_client() -> ViesClient:
    return _client


def use_vies_client(client: ViesClient) -> ViesClient:
    """Install `client`; returns the one it replaces (tests put it back)."""
    global _client
    previous, _client = _client, client
    return previous
