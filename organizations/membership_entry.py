"""Where the pages find the seat-aware entry points for joining and leaving.

`members_add`, `members_remove`, `invitation_accept` and `seat_reassign` take and
release seats, so they live with seats (`seats.services`). organizations imports no
other app: the project names the module in `settings.ORGANIZATIONS_MEMBERSHIP_SERVICES`
(as `AUTH_USER_MODEL` names the user model), and it is imported on first use.
"""

from importlib import import_module
from types import ModuleType

from django.conf import settings

DEFAULT_MEMBERSHIP_SERVICES = "seats.services"


def membership_services() -> ModuleType:
    return import_module(getattr(settings, "ORGANIZATIONS_MEMBERSHIP_SERVICES", DEFAULT_MEMBERSHIP_SERVICES))
