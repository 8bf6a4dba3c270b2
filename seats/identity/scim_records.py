"""SCIM resources to and from rows: what the columns of ScimUser hold, read from a resource."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from organizations.models import Organization

from ..models import ScimUser
from .people import normalize_email

# Never stored: computed on read (id, meta, groups) or write-only (password: we keep no
# password from a provider; people sign in through SSO or reset their password).
NOT_STORED = ("id", "meta", "groups", "password")


def stored_attributes(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key not in NOT_STORED}


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def user_email(attributes: dict) -> str:
    """The person's address: the primary of `emails` (else the first), else `userName`
    when it is an address (as most providers send it)."""
    emails = [e for e in attributes.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    emails.sort(key=lambda e: not e.get("primary"))
    for candidate in [e["value"] for e in emails] + [attributes.get("userName") or ""]:
        if _is_email(candidate.strip()):
            return normalize_email(candidate)
    return ""


def user_names(attributes: dict) -> tuple[str, str]:
    name = attributes.get("name") or {}
    given, family = (name.get("givenName") or "").strip(), (name.get("familyName") or "").strip()
    if not given and not family:
        display = (attributes.get("displayName") or name.get("formatted") or "").strip()
        given, _, family = display.partition(" ")
    return given, family


def display_name(attributes: dict) -> str:
    given, family = user_names(attributes)
    return " ".join(part for part in (given, family) if part) or attributes.get("userName", "")


def scim_user_link(*, organization: Organization, user, attributes: dict, at: dt.datetime) -> ScimUser:
    """The SCIM record of a person who already holds (or was just given) a membership."""
    attributes = stored_attributes(attributes)
    values = {
        "user_name": attributes.get("userName") or user.email,
        "external_id": attributes.get("externalId") or "",
        "email": user_email(attributes),
        "active": True,
        "attributes": {**attributes, "active": True},
        "updated_at": at,
    }
    record = ScimUser.objects.filter(organization=organization, user=user).first()
    if record is None:
        return ScimUser.objects.create(organization=organization, user=user, created_at=at, **values)
    for field, value in values.items():
        setattr(record, field, value)
    record.version += 1
    record.save()
    return record
