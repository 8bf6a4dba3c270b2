"""Refusals that carry a rule code, so callers (views, API, simulate) can show or report them."""

from django.utils.translation import gettext as _

from .text import storable


class RuleViolation(Exception):
    """An action broke a rule and was refused whole: nothing changed.

    `field` names the input the refusal is about (e.g. "country"), when there is one, so a
    form can show the message next to that input.
    """

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class LastOwner(RuleViolation):
    code = "last_owner"


def credential_name(name: str | None, *, when_empty: str) -> str:
    """The name given to an API key or a SCIM token, trimmed; refused (field "name") when
    empty, over 100 characters, or holding text PostgreSQL can't store."""
    name = (name or "").strip()
    if not name:
        raise RuleViolation(when_empty, code="name_required", field="name")
    if len(name) > 100:
        raise RuleViolation(_("The name is at most 100 characters."), code="name_too_long", field="name")
    if not storable(name):
        raise RuleViolation(_("The name can't hold the NUL character."), code="name_invalid", field="name")
    return name
