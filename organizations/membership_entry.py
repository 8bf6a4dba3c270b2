"""Where the pages find the seat-aware entry points for joining and leaving, and what the
members page shows of seats.

`members_add`, `members_remove`, `invitation_accept` and `seat_reassign` take and
release seats, so they live with seats (`seats.services`); the seat count of the members
page comes from billing, through seats (`seats.members`). organizations imports no
other app: the project names the modules in `settings.ORGANIZATIONS_MEMBERSHIP_SERVICES`
and `settings.ORGANIZATIONS_MEMBERSHIP_SEATS` (as `AUTH_USER_MODEL` names the user model),
and they are imported on first use.
"""

from importlib import import_module
from types import ModuleType

from django.conf import settings

DEFAULT_MEMBERSHIP_SERVICES = "seats.services"
DEFAULT_MEMBERSHIP_SEATS = "seats.members"
DEFAULT_PARTNER_EXIT = "billing.partner_exit"


def membership_services() -> ModuleType:
    return import_module(getattr(settings, "ORGANIZATIONS_MEMBERSHIP_SERVICES", DEFAULT_MEMBERSHIP_SERVICES))


def membership_seats() -> ModuleType:
    """Reads of seats for the members page: `seat_count(organization=...)` -> .used, .total or None."""
    return import_module(getattr(settings, "ORGANIZATIONS_MEMBERSHIP_SEATS", DEFAULT_MEMBERSHIP_SEATS))


def partner_exit() -> ModuleType:
    """What a leaving partner leaves behind (credentials in usage and seats, its people's
    memberships): `leftovers(...)` and `partner_leaves(...)`."""
    return import_module(getattr(settings, "ORGANIZATIONS_PARTNER_EXIT", DEFAULT_PARTNER_EXIT))
