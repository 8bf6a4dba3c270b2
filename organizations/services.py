"""Writes for organizations, memberships and invitations.

Every function takes keyword-only arguments and the instant `at` (and the billing date
`on` where one is needed) from its caller: nothing here reads the clock. Each change
runs in one transaction and writes an audit row in it; a refusal raises `RuleViolation`
before anything is written, so nothing changes.

Joining and leaving with seats goes through `seats.services` (members_add,
members_remove, invitation_accept, seat_reassign); those call the low-level
`membership_create` / `membership_end` / `invitation_mark_accepted` below, which know
nothing about seats.
"""

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_countries import countries

from core import clock, tax_ids, vies
from core.site import absolute_url

from . import formatting as fmt
from .audit import audit_record
from .errors import LastOwner, RuleViolation
from .mail import mail_after_commit
from .models import (
    ADDRESS_LINE_MAX_LENGTH,
    CITY_MAX_LENGTH,
    POSTCODE_MAX_LENGTH,
    Invitation,
    Membership,
    Organization,
    Role,
)
from .tenancy import (
    OWNER_GRANTED_ROLES,
    Capability,
    actor_has_capability,
    owner_by_membership,
    roles_grantable_to,
)
from .text import EMAIL_MAX_LENGTH, LOGIN_EMAIL_MAX_LENGTH, single_line

BILLING_DETAIL_FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "postcode",
    "city",
    "region",
    "country",
    "vat_id",
    "billing_email",
)
# The one-line parts of the postal address and the most characters a document prints of each.
ADDRESS_FIELD_LENGTHS = {
    "address_line1": ADDRESS_LINE_MAX_LENGTH,
    "address_line2": ADDRESS_LINE_MAX_LENGTH,
    "postcode": POSTCODE_MAX_LENGTH,
    "city": CITY_MAX_LENGTH,
    "region": CITY_MAX_LENGTH,
}
# Settings an organization can be created with besides its billing details.
ORGANIZATION_OPTION_FIELDS = ("description", "time_zone", "language", "currency")
# What owners change in Settings besides the tax identity (Capability.MANAGE_SETTINGS).
PREFERENCE_FIELDS = ("language", "payment_terms_days")
PAYMENT_TERMS_MAX_DAYS = 90

# Paths under /o/ that are pages, not organizations.
RESERVED_SLUGS = frozenset({"new"})
SLUG_MAX_LENGTH = 80


# ---------------------------------------------------------------------------
# Helpers


def _normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def person_email(email: str, *, field: str = "email") -> str:
    """A person's e-mail address, normalized; refused (`invalid_email`) when it is not one or
    is too long to be their login's user name (an invitation to it could never be accepted)."""
    email = _normalize_email(email)
    if len(email) > LOGIN_EMAIL_MAX_LENGTH:
        raise RuleViolation(
            _("An e-mail address is at most %(count)s characters here: it becomes the person's login.")
            % {"count": LOGIN_EMAIL_MAX_LENGTH},
            code="invalid_email",
            field=field,
        )
    try:
        validate_email(email)
    except ValidationError:
        raise RuleViolation(_("Enter a valid e-mail address."), code="invalid_email", field=field) from None
    return email


def _one_line_name(name: str, *, max_length: int, field: str) -> str:
    if len(name) > max_length:
        raise RuleViolation(
            _("A name is at most %(count)s characters.") % {"count": max_length},
            code="invalid_name",
            field=field,
        )
    if not single_line(name):
        raise RuleViolation(
            _("A name is one line of text: no line breaks, tabs or other control characters."),
            code="invalid_name",
            field=field,
        )
    return name


def _address_part(value: str, *, max_length: int, field: str) -> str:
    if len(value) > max_length:
        raise RuleViolation(
            _("At most %(count)s characters: the invoice prints it on one line.") % {"count": max_length},
            code="invalid_address",
            field=field,
        )
    if not single_line(value):
        raise RuleViolation(
            _("One line of text: no line breaks, tabs or other control characters."),
            code="invalid_address",
            field=field,
        )
    return value


def _json_value(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _vat_id_refusal(check: tax_ids.TaxIdCheck, country: str) -> RuleViolation:
    name = countries.name(country) or country
    if check.problem == tax_ids.PREFIX_MISMATCH:
        message = _("A VAT ID of %(country)s starts with %(prefix)s. Check the country and the VAT ID.") % {
            "country": name,
            "prefix": check.expected_prefix,
        }
    elif check.problem == tax_ids.UNSUPPORTED_COUNTRY:
        message = _("We cannot check tax numbers of %(country)s. Leave the VAT ID empty.") % {"country": name}
    elif check.problem == tax_ids.INVALID_CHECKSUM:
        message = _("This is not a valid VAT ID of %(country)s: its check digits do not match.") % {
            "country": name
        }
    elif check.problem == tax_ids.INVALID_CHARACTERS:
        message = _("A VAT ID is one line of at most %(count)s letters and digits.") % {
            "count": tax_ids.MAX_INPUT_LENGTH
        }
    else:
        message = _("This is not a valid VAT ID of %(country)s: check its length and format.") % {
            "country": name
        }
    return RuleViolation(message, code="invalid_vat_id", field="vat_id")


def _checked_vat_id(*, vat_id: str, country: str, on: dt.date) -> dict:
    """The VAT ID as stored and its check (core.vies), or RuleViolation for an ID that is not
    one of `country`'s. VIES knows only EU VAT IDs: others are checked offline only."""
    check = tax_ids.check_tax_id(country, vat_id)
    if not check.valid:
        raise _vat_id_refusal(check, country)
    if not check.value:
        return {"vat_id": "", "vat_id_check": "", "vat_id_checked_on": None}
    if country in tax_ids.EU_MEMBER_STATES:
        result = vies.vies_client().check(check.value, on=on)
    else:
        result = vies.ViesResult(vies.FORMAT_VALID, on)
    if result.status == vies.NOT_FOUND:
        raise RuleViolation(
            _("The EU's VIES service does not know the VAT ID %(vat_id)s. Check it.")
            % {"vat_id": check.value},
            code="vat_id_unknown",
            field="vat_id",
        )
    return {"vat_id": check.value, "vat_id_check": result.status, "vat_id_checked_on": result.checked_on}


def organization_name(name: str, *, when_empty: str = "", field: str = "name") -> str:
    """An organization's name, trimmed; refused (`invalid_name`) when empty, over 200 characters
    or not one line: names go into e-mail subjects, where a line break broke the e-mail."""
    name = (name or "").strip()
    if not name:
        raise RuleViolation(
            when_empty or _("Give the organization a name."), code="invalid_name", field=field
        )
    return _one_line_name(name, max_length=200, field=field)


def person_name(name: str, *, field: str) -> str:
    """A first or last name, trimmed; refused when over 150 characters or not one line."""
    return _one_line_name((name or "").strip(), max_length=150, field=field)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ensure_owner_for_owner_change(*, organization: Organization, acting_user, what: str) -> None:
    """Only an owner makes, unmakes or removes owners. System actions (acting_user None) are trusted."""
    if acting_user is None:
        return
    if not owner_by_membership(acting_user, organization):
        raise RuleViolation(
            _("Only an owner can %(what)s. Ask an owner of %(name)s.")
            % {"what": what, "name": organization.name},
            code="owner_required",
        )


def _ensure_may_grant(*, organization: Organization, acting_user, role: str) -> None:
    """Refuse giving `role` unless the acting person may (tenancy.roles_grantable_by: only
    roles whose rights they hold; owner and finance only from an owner). System actions
    (acting_user None) are trusted: their callers bound them (SCIM by its token's grantor)."""
    if acting_user is None:
        return
    if role in roles_grantable_to(acting_user, organization):
        return
    label = Role(role).label
    if role in OWNER_GRANTED_ROLES:
        message = _("Only an owner of %(name)s can give the role %(role)s. Ask an owner.")
    else:
        message = _(
            "You can only give roles whose rights you have yourself. Ask an owner of %(name)s "
            "to give the role %(role)s."
        )
    raise RuleViolation(
        message % {"name": organization.name, "role": label}, code="role_not_grantable", field="role"
    )


def _validate_role(role: str) -> str:
    if role not in Role.values:
        raise RuleViolation(f"Unknown role {role!r}.", code="invalid_role", field="role")
    return role


def _clean_details(details: dict, *, allowed: tuple[str, ...]) -> dict:
    unknown = set(details) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown organization fields: {', '.join(sorted(unknown))}")
    cleaned = {}
    for name, value in details.items():
        value = (value or "").strip() if isinstance(value, str) or value is None else value
        if name == "legal_name":
            value = _one_line_name(value, max_length=200, field=name)
        elif name in ADDRESS_FIELD_LENGTHS:
            value = _address_part(value, max_length=ADDRESS_FIELD_LENGTHS[name], field=name)
        elif name == "country":
            value = value.upper()
            if not re.fullmatch(r"[A-Z]{2}", value) or not countries.alpha2(value):
                raise RuleViolation(
                    _("Choose a country from the list."),
                    code="invalid_country",
                    field=name,
                )
        elif name == "vat_id":
            # Checked against the country in _checked_vat_id, once the country is known.
            if len(value) > tax_ids.MAX_INPUT_LENGTH or not single_line(value):
                raise RuleViolation(
                    _("A VAT ID is one line of at most %(count)s letters and digits.")
                    % {"count": tax_ids.MAX_INPUT_LENGTH},
                    code="invalid_vat_id",
                    field=name,
                )
        elif name == "billing_email":
            value = _normalize_email(value)
            if len(value) > EMAIL_MAX_LENGTH:
                raise RuleViolation(
                    _("An e-mail address is at most %(count)s characters.") % {"count": EMAIL_MAX_LENGTH},
                    code="invalid_email",
                    field=name,
                )
            if value:
                try:
                    validate_email(value)
                except ValidationError:
                    raise RuleViolation(
                        _("Enter a valid billing e-mail address."), code="invalid_email", field=name
                    ) from None
        elif name == "time_zone":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise RuleViolation(
                    f"Unknown time zone {value!r}; use a name like Europe/Copenhagen.",
                    code="invalid_time_zone",
                    field=name,
                ) from None
        elif name == "language":
            value = value.lower()
            if value not in fmt.SUPPORTED_LANGUAGES:
                raise RuleViolation(
                    _("Choose one of the languages offered."), code="invalid_language", field=name
                )
        elif name == "payment_terms_days":
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= PAYMENT_TERMS_MAX_DAYS
            ):
                raise RuleViolation(
                    _("Payment terms are 0 to %(count)s days.") % {"count": PAYMENT_TERMS_MAX_DAYS},
                    code="invalid_payment_terms",
                    field=name,
                )
        elif name == "currency":
            value = value.upper()
            if not re.fullmatch(r"[A-Z]{3}", value):
                raise RuleViolation(
                    _("Currency must be a three-letter code, such as EUR."),
                    code="invalid_currency",
                    field=name,
                )
        cleaned[name] = value
    return cleaned


# Letters NFKD does not decompose into ASCII (slugify would drop them).
_SLUG_TRANSLITERATION = str.maketrans(
    {
        "æ": "ae",
        "Æ": "AE",
        "ø": "oe",
        "Ø": "OE",
        "å": "aa",
        "Å": "AA",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
    }
)


def _unique_slug(base: str) -> str:
    base = (slugify(base.translate(_SLUG_TRANSLITERATION)) or "organization")[: SLUG_MAX_LENGTH - 4].strip(
        "-"
    ) or "organization"
    candidate, n = base, 1
    while candidate in RESERVED_SLUGS or Organization.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# ---------------------------------------------------------------------------
# Organizations


def organization_create(
    *, name: str, owner, at: dt.datetime, slug: str | None = None, **details
) -> Organization:
    """Create an organization; `owner` becomes its first owner.

    `details` are billing details (legal_name, address, country, vat_id, billing_email) and
    options (description, time_zone, language, currency). The slug is derived from the name
    and made unique unless given; a given slug that is taken is refused.
    """
    name = organization_name(name)
    cleaned = _clean_details(details, allowed=BILLING_DETAIL_FIELDS + ORGANIZATION_OPTION_FIELDS)
    if cleaned.get("vat_id"):
        country = cleaned.get("country") or Organization._meta.get_field("country").default
        on = at.astimezone(ZoneInfo(cleaned.get("time_zone") or "UTC")).date()
        cleaned.update(_checked_vat_id(vat_id=cleaned["vat_id"], country=country, on=on))
    if slug is not None:
        slug = slugify(slug)
        if not slug or slug in RESERVED_SLUGS or len(slug) > SLUG_MAX_LENGTH:
            raise RuleViolation(
                _("Choose another address for the organization."), code="invalid_slug", field="slug"
            )
    for _attempt in range(5):
        chosen = slug or _unique_slug(name)
        if slug is not None and Organization.objects.filter(slug=chosen).exists():
            raise RuleViolation(
                f"The address {chosen!r} is taken; choose another.", code="slug_taken", field="slug"
            )
        try:
            with transaction.atomic():
                organization = Organization.objects.create(name=name, slug=chosen, **cleaned)
                _at, today = clock.organization_now_and_today(organization, at=at)
                membership_create(
                    organization=organization,
                    user=owner,
                    role=Role.OWNER,
                    at=at,
                    on=today,
                    acting_user=owner,
                )
                audit_record(
                    organization=organization,
                    actor=owner,
                    action="organization.created",
                    at=at,
                    target=organization.slug,
                    details={"name": name, **{key: _json_value(value) for key, value in cleaned.items()}},
                )
                return organization
        except IntegrityError:
            # Someone took the slug (or the customer code) between the check and the insert.
            if slug is not None:
                raise RuleViolation(
                    f"The address {chosen!r} is taken; choose another.", code="slug_taken", field="slug"
                ) from None
    raise RuleViolation(
        _("Could not find a free address for the organization; try again."), code="slug_taken"
    )


@transaction.atomic
def organization_update_billing_details(
    *, organization: Organization, at: dt.datetime, acting_user=None, reason: str = "", **details
) -> Organization:
    """Change billing details: legal_name, the address parts, country (ISO 3166), vat_id,
    billing_email. A VAT ID must be one of the country's (core.tax_ids: prefix, format and
    check digits); a new one, or a new country, is checked with VIES (core.vies) and the
    answer and its date kept. Issued documents keep the details they were issued with.

    They are the organization's tax identity (they decide the VAT on its invoices): only an
    owner or finance changes them (Capability.MANAGE_TAX_IDENTITY; a partner's person as the
    role it acts with); system actions (acting_user None) are trusted. Only the fields passed
    change; the audit row records each change as [old, new], and `reason` when a rule made
    the change (e.g. "partner_removed": a billing e-mail of the partner's replaced).
    """
    if acting_user is not None and not actor_has_capability(
        acting_user, organization, Capability.MANAGE_TAX_IDENTITY
    ):
        raise RuleViolation(
            _("Only an owner or finance of %(name)s can change its billing details.")
            % {"name": organization.name},
            code="tax_identity_forbidden",
        )
    cleaned = _clean_details(details, allowed=BILLING_DETAIL_FIELDS)
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    country = cleaned.get("country", locked.country)
    vat_id = cleaned.get("vat_id", locked.vat_id)
    if vat_id != locked.vat_id or country != locked.country:
        # A new VAT ID, or the old one under a new country: checked again, and its check dated.
        cleaned.update(
            _checked_vat_id(
                vat_id=vat_id, country=country, on=clock.organization_now_and_today(locked, at=at)[1]
            )
        )
    changes = _save_changes(organization=organization, locked=locked, cleaned=cleaned)
    if not changes:
        return locked
    audit_record(
        organization=locked,
        actor=acting_user,
        action="organization.billing_details_updated",
        at=at,
        target=locked.slug,
        details={
            **{name: [_json_value(old), _json_value(new)] for name, (old, new) in changes.items()},
            **({"reason": reason} if reason else {}),
        },
    )
    return locked


def _save_changes(*, organization: Organization, locked: Organization, cleaned: dict) -> dict[str, list]:
    """Writes the cleaned values that differ to the locked row and the caller's instance;
    returns {field: [old, new]} of what changed (empty: nothing written)."""
    changes = {
        name: [getattr(locked, name), value]
        for name, value in cleaned.items()
        if getattr(locked, name) != value
    }
    for name, (_old, new) in changes.items():
        setattr(locked, name, new)
        setattr(organization, name, new)
    if changes:
        locked.save(update_fields=list(changes))
    return changes


def organization_update_preferences(
    *, organization: Organization, at: dt.datetime, acting_user=None, **preferences
) -> Organization:
    """Change the organization's language (en, da, de, nb: its documents, hosted document
    pages and e-mails are written in it from the next one on) and its payment terms (days
    from issue to due date, 0 to 90, for the invoices issued from then on). Owners only
    (Capability.MANAGE_SETTINGS); audited as `organization.preferences_updated` with
    {field: [old, new]}."""
    if acting_user is not None and not actor_has_capability(
        acting_user, organization, Capability.MANAGE_SETTINGS
    ):
        raise RuleViolation(
            _("Only an owner of %(name)s can change its settings.") % {"name": organization.name},
            code="settings_forbidden",
        )
    cleaned = _clean_details(preferences, allowed=PREFERENCE_FIELDS)
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    changes = _save_changes(organization=organization, locked=locked, cleaned=cleaned)
    if not changes:
        return locked
    audit_record(
        organization=locked,
        actor=acting_user,
        action="organization.preferences_updated",
        at=at,
        target=locked.slug,
        details=changes,
    )
    return locked


# ---------------------------------------------------------------------------
# Invitations


def invitation_accept_path(token: str) -> str:
    return reverse("invitation_accept", kwargs={"token": token})


def _invitation_send(*, invitation: Invitation, token: str) -> None:
    """Send the invitation e-mail once the transaction commits (never for a rolled-back invitation)."""
    inviter = invitation.invited_by
    context = {
        "organization_name": invitation.organization.name,
        "inviter": (inviter.get_full_name() or inviter.email or inviter.get_username()) if inviter else "",
        "role": Role(invitation.role).label,  # lazy: in the e-mail's language
        "accept_url": absolute_url(invitation_accept_path(token)),
        "expires_at": invitation.expires_at,
    }
    # In the organization's language, as its other e-mails (English for languages without a catalogue).
    with translation.override(fmt.document_language(invitation.organization.language)):
        subject = _("You are invited to join %(name)s") % {"name": invitation.organization.name}
        body = render_to_string("organizations/email/invitation.txt", context)
    mail_after_commit(subject=subject, body=body, recipients=[invitation.email])


def _ensure_not_member_by_email(*, organization: Organization, email: str) -> None:
    User = get_user_model()
    user_ids = User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).values("pk")
    if Membership.objects.filter(
        organization=organization, user__in=user_ids, removed_at__isnull=True
    ).exists():
        raise RuleViolation(
            _("%(email)s is already a member of %(name)s.") % {"email": email, "name": organization.name},
            code="already_member",
            field="email",
        )


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _token_hash(token)


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    invited_by,
    at: dt.datetime,
    seat_interval: str = "",
    notify: bool = True,
    takes_seat_of: Membership | None = None,
) -> Invitation:
    """Invite `email` to join with `role`; e-mails the accept link after commit.

    Only a hash of the token is stored; the returned invitation carries the token in the
    unsaved attribute `token` for a caller that e-mails it itself. Nobody but the invited
    address ever gets it (not the inviter, not the API's answer): opening the link proves the
    address, and lets its owner claim an account SCIM or single sign-on made; the link
    starts with settings.SITE_URL (core.site). `notify=False`: the
    caller sends its own e-mail with the link (a partner's handover, in the client's language).
    `takes_seat_of`: a member whose seat the person takes over on accepting (seat_reassign).
    """
    email = person_email(email)
    _validate_role(role)
    if role == Role.OWNER:
        _ensure_owner_for_owner_change(
            organization=organization, acting_user=invited_by, what=_("invite an owner")
        )
    _ensure_may_grant(organization=organization, acting_user=invited_by, role=role)
    # Serialize invitations of one organization so the duplicate checks below hold.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    _ensure_not_member_by_email(organization=organization, email=email)
    pending = Invitation.objects.filter(
        organization=organization, email__iexact=email, status=Invitation.Status.PENDING
    ).first()
    if pending is not None:
        if pending.expires_at > at:
            raise RuleViolation(
                _("%(email)s already has a pending invitation; resend it instead of inviting again.")
                % {"email": email},
                code="invitation_pending",
                field="email",
            )
        pending.status = Invitation.Status.EXPIRED
        pending.save(update_fields=["status"])
    token, token_hash = _new_token()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        seat_interval=seat_interval,
        token_hash=token_hash,
        invited_by=invited_by if getattr(invited_by, "pk", None) else None,
        created_at=at,
        sent_at=at,
        expires_at=at + dt.timedelta(days=settings.INVITATION_VALID_DAYS),
        takes_seat_of=takes_seat_of,
    )
    invitation.token = token
    details = {"role": role, "seat_interval": seat_interval, "expires_at": invitation.expires_at.isoformat()}
    if takes_seat_of is not None:
        details["takes_seat_of"] = str(takes_seat_of.user)
    audit_record(
        organization=organization,
        actor=invited_by,
        action="invitation.created",
        at=at,
        target=email,
        details=details,
    )
    if notify:
        _invitation_send(invitation=invitation, token=token)
    return invitation


def _lock_invitation(invitation: Invitation) -> Invitation:
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "invited_by")
        .get(pk=invitation.pk)
    )


@transaction.atomic
def invitation_resend(
    *, invitation: Invitation, at: dt.datetime, acting_user=None, notify: bool = True
) -> Invitation:
    """Send a pending (or expired) invitation again with a new link and a new expiry.

    The old link stops working. Accepted and revoked invitations cannot be resent.
    `notify=False`: the caller e-mails the new link (`token`) itself.
    """
    locked = _lock_invitation(invitation)
    if locked.status not in (Invitation.Status.PENDING, Invitation.Status.EXPIRED):
        raise RuleViolation(
            _("The invitation to %(email)s was %(status)s; invite them again instead.")
            % {"email": locked.email, "status": locked.get_status_display().lower()},
            code="invitation_closed",
        )
    organization = locked.organization
    if locked.status == Invitation.Status.EXPIRED:
        if (
            Invitation.objects.filter(
                organization=organization, email__iexact=locked.email, status=Invitation.Status.PENDING
            )
            .exclude(pk=locked.pk)
            .exists()
        ):
            raise RuleViolation(
                _("%(email)s already has a newer pending invitation; resend that one.")
                % {"email": locked.email},
                code="invitation_pending",
            )
    _ensure_not_member_by_email(organization=organization, email=locked.email)
    token, token_hash = _new_token()
    locked.token_hash = token_hash
    locked.status = Invitation.Status.PENDING
    locked.sent_at = at
    locked.expires_at = at + dt.timedelta(days=settings.INVITATION_VALID_DAYS)
    locked.save(update_fields=["token_hash", "status", "sent_at", "expires_at"])
    locked.token = token
    audit_record(
        organization=organization,
        actor=acting_user,
        action="invitation.resent",
        at=at,
        target=locked.email,
        details={"expires_at": locked.expires_at.isoformat()},
    )
    if notify:
        _invitation_send(invitation=locked, token=token)
    return locked


@transaction.atomic
def invitation_revoke(
    *, invitation: Invitation, at: dt.datetime, acting_user=None, reason: str = ""
) -> Invitation:
    """Withdraw a pending invitation: its link stops working. `reason` says why in the audit
    row (e.g. "partner_handover")."""
    locked = _lock_invitation(invitation)
    if locked.status not in (Invitation.Status.PENDING, Invitation.Status.EXPIRED):
        raise RuleViolation(
            _("The invitation to %(email)s was already %(status)s.")
            % {"email": locked.email, "status": locked.get_status_display().lower()},
            code="invitation_closed",
        )
    locked.status = Invitation.Status.REVOKED
    locked.save(update_fields=["status"])
    invitation.status = locked.status
    audit_record(
        organization=locked.organization,
        actor=acting_user,
        action="invitation.revoked",
        at=at,
        target=locked.email,
        details={"reason": reason} if reason else None,
    )
    return locked


def invitation_get_valid(*, token: str, at: dt.datetime) -> Invitation:
    """The invitation behind an e-mailed link, if it can still be accepted at `at`.

    Raises RuleViolation(code="invitation_invalid") saying why not (unknown, revoked, used,
    expired) and what to do. Reads only.
    """
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=_token_hash(token or ""))
        .first()
    )
    code = "invitation_invalid"
    if invitation is None:
        raise RuleViolation(
            _(
                "This invitation link is not valid. It may have been replaced by a newer e-mail: "
                "use the link in the latest invitation, or ask for a new one."
            ),
            code=code,
        )
    org_name = invitation.organization.name
    inviter = (
        invitation.invited_by.email
        if invitation.invited_by
        else _("an owner of %(name)s") % {"name": org_name}
    )
    if invitation.status == Invitation.Status.ACCEPTED:
        raise RuleViolation(
            _("This invitation to %(name)s has already been used. Log in to continue.") % {"name": org_name},
            code=code,
        )
    if invitation.status == Invitation.Status.REVOKED:
        raise RuleViolation(
            _("This invitation to %(name)s was withdrawn. Ask %(inviter)s if you should still join.")
            % {"name": org_name, "inviter": inviter},
            code=code,
        )
    if invitation.status == Invitation.Status.EXPIRED or invitation.expires_at <= at:
        raise RuleViolation(
            _("This invitation to %(name)s has expired. Ask %(inviter)s to send it again.")
            % {"name": org_name, "inviter": inviter},
            code=code,
        )
    return invitation


@transaction.atomic
def invitation_mark_accepted(*, invitation: Invitation, at: dt.datetime, user=None) -> Invitation:
    """Close the invitation as used. Low level: `seats.services.invitation_accept` adds the member."""
    locked = _lock_invitation(invitation)
    if locked.status != Invitation.Status.PENDING or locked.expires_at <= at:
        raise RuleViolation(
            _("This invitation is no longer valid; ask for a new one."), code="invitation_invalid"
        )
    locked.status = Invitation.Status.ACCEPTED
    locked.accepted_at = at
    locked.save(update_fields=["status", "accepted_at"])
    invitation.status, invitation.accepted_at = locked.status, locked.accepted_at
    audit_record(
        organization=locked.organization,
        actor=user,
        action="invitation.accepted",
        at=at,
        target=locked.email,
        details={"role": locked.role},
    )
    return locked


# ---------------------------------------------------------------------------
# Memberships (low level: no seats)


def ensure_not_last_owner(memberships_to_remove: Iterable[Membership]) -> None:
    """Refuse (LastOwner) if removing or demoting these memberships leaves an organization without an owner.

    Locks the organization's active owner rows (in id order, so concurrent callers queue
    instead of deadlocking): two owners removing each other at once cannot both succeed.
    Call it inside the caller's transaction.
    """
    by_organization: dict[int, set[int]] = {}
    for membership in memberships_to_remove:
        by_organization.setdefault(membership.organization_id, set()).add(membership.pk)
    for organization_id, leaving in by_organization.items():
        with transaction.atomic():
            owners = set(
                Membership.objects.select_for_update()
                .filter(organization_id=organization_id, role=Role.OWNER, removed_at__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        if owners & leaving and not owners - leaving:
            organization = Organization.objects.get(pk=organization_id)
            raise LastOwner(
                _("%(name)s needs at least one owner. Make someone else an owner first, then try again.")
                % {"name": organization.name}
            )


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    user,
    role: str,
    at: dt.datetime,
    on: dt.date,
    seat_interval: str = "",
    acting_user=None,
) -> Membership:
    """Make `user` an active member (low level: takes no seat). Refused if already an active member."""
    _validate_role(role)
    if acting_user is not None and acting_user != user:
        if role == Role.OWNER:
            _ensure_owner_for_owner_change(
                organization=organization, acting_user=acting_user, what=_("add an owner")
            )
        _ensure_may_grant(organization=organization, acting_user=acting_user, role=role)
    if Membership.objects.filter(organization=organization, user=user, removed_at__isnull=True).exists():
        raise RuleViolation(
            _("%(person)s is already a member of %(name)s.") % {"person": user, "name": organization.name},
            code="already_member",
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                organization=organization,
                user=user,
                role=role,
                seat_interval=seat_interval,
                joined_at=at,
                joined_on=on,
            )
    except IntegrityError:
        # A concurrent request added the same person first (one active membership per user).
        raise RuleViolation(
            _("%(person)s is already a member of %(name)s.") % {"person": user, "name": organization.name},
            code="already_member",
        ) from None
    audit_record(
        organization=organization,
        actor=acting_user,
        action="member.added",
        at=at,
        target=str(user),
        details={"role": role, "joined_on": on.isoformat(), "seat_interval": seat_interval},
    )
    return membership


def _lock_membership(membership: Membership) -> Membership:
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("organization", "user")
        .get(pk=membership.pk)
    )


@transaction.atomic
def membership_end(*, membership: Membership, at: dt.datetime, acting_user=None) -> Membership:
    """Remove a member (low level: releases no seat). The row stays, with `removed_at` set.

    Refused with LastOwner for the last active owner; only an owner removes an owner.
    """
    ensure_not_last_owner([membership])
    locked = _lock_membership(membership)
    if locked.removed_at is not None:
        raise RuleViolation(
            _("%(person)s is no longer a member.") % {"person": locked.user}, code="not_a_member"
        )
    if locked.role == Role.OWNER and acting_user != locked.user:
        _ensure_owner_for_owner_change(
            organization=locked.organization, acting_user=acting_user, what=_("remove an owner")
        )
    locked.removed_at = at
    locked.save(update_fields=["removed_at"])
    membership.removed_at = at
    audit_record(
        organization=locked.organization,
        actor=acting_user,
        action="member.removed",
        at=at,
        target=str(locked.user),
        details={"role": locked.role},
    )
    return locked


@transaction.atomic
def membership_role_change(
    *, membership: Membership, role: str, at: dt.datetime, acting_user=None, via: str = ""
) -> Membership:
    """Give a member another role.

    LastOwner when demoting the last owner; only an owner makes or unmakes owners and gives
    finance; anyone else gives only roles whose rights they hold (`_ensure_may_grant`), also
    to themselves. The audit row has the old and the new role, and `via` (what did it for a
    system action, e.g. "scim:<token prefix>").
    """
    _validate_role(role)
    if role != Role.OWNER:
        # Locks the owner rows before the member's row, in the same order as membership_end.
        ensure_not_last_owner([membership])
    locked = _lock_membership(membership)
    if locked.removed_at is not None:
        raise RuleViolation(
            _("%(person)s is no longer a member.") % {"person": locked.user}, code="not_a_member"
        )
    if locked.role == role:
        return locked
    if Role.OWNER in (locked.role, role):
        _ensure_owner_for_owner_change(
            organization=locked.organization, acting_user=acting_user, what=_("change who is an owner")
        )
    _ensure_may_grant(organization=locked.organization, acting_user=acting_user, role=role)
    old_role = locked.role
    locked.role = role
    locked.save(update_fields=["role"])
    membership.role = role
    audit_record(
        organization=locked.organization,
        actor=acting_user,
        action="member.role_changed",
        at=at,
        target=str(locked.user),
        details={"from": old_role, "to": role, **({"via": via} if via else {})},
    )
    return locked


# ---------------------------------------------------------------------------
# People


def user_create(*, email: str, password: str, first_name: str = "", last_name: str = ""):
    """A new login for a person who accepts an invitation: username = e-mail.

    The caller validates the password (AUTH_PASSWORD_VALIDATORS) as form input. Refused if
    an account with that e-mail exists: that person logs in instead.
    """
    User = get_user_model()
    email = person_email(email)
    first_name, last_name = (
        person_name(first_name, field="first_name"),
        person_name(last_name, field="last_name"),
    )
    if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        raise RuleViolation(
            _("An account for %(email)s exists already: log in to continue.") % {"email": email},
            code="account_exists",
        )
    return User.objects.create_user(
        username=email,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )


@transaction.atomic
def account_lock_notify(
    *, username: str, address: str, failures: int, until: dt.datetime, at: dt.datetime
) -> int:
    """Password sign-in to `username` was just paused after `failures` failed attempts from
    `address` (organizations.throttling): tell the owners of each organization the account
    belongs to, in the organization's language, and record it in its audit log. Nothing
    when no account has that name. Returns the number of organizations told."""
    User = get_user_model()
    email = _normalize_email(username)
    user = User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).order_by("pk").first()
    if user is None:
        return 0
    memberships = Membership.objects.filter(user=user, removed_at__isnull=True).select_related("organization")
    person = user.email or user.get_username()
    for membership in memberships:
        organization = membership.organization
        owners = list(
            Membership.objects.filter(organization=organization, role=Role.OWNER, removed_at__isnull=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        context = {
            "organization_name": organization.name,
            "person": person,
            "failures": failures,
            "address": address,
            "until": until,
        }
        language = fmt.document_language(organization.language)
        with translation.override(language), timezone.override(ZoneInfo(organization.time_zone)):
            subject = _("%(name)s: signing in as %(person)s is paused after failed attempts") % {
                "name": organization.name,
                "person": person,
            }
            body = render_to_string("organizations/email/account_locked.txt", context)
        if owners:
            mail_after_commit(subject=subject, body=body, recipients=owners)
        audit_record(
            organization=organization,
            actor=None,
            action="login.locked",
            at=at,
            target=person[:200],
            details={"failures": failures, "address": address, "until": until.isoformat()},
        )
    return len(memberships)


@transaction.atomic
def user_claim(*, user, password: str, first_name: str = "", last_name: str = ""):
    """Set the first password of an account made without one (by SCIM or single sign-on):
    its owner claims it. The caller has the address proven (the invitation link it opened
    was e-mailed there) and the password validated. Refused for an account that has a
    password: its owner logs in instead."""
    User = get_user_model()
    first_name, last_name = (
        person_name(first_name, field="first_name"),
        person_name(last_name, field="last_name"),
    )
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        raise RuleViolation(_("This account is deactivated."), code="account_inactive")
    if locked.has_usable_password():
        raise RuleViolation(
            _("An account for %(email)s exists already: log in to continue.") % {"email": locked.email},
            code="account_exists",
        )
    locked.set_password(password)
    locked.first_name = locked.first_name or first_name
    locked.last_name = locked.last_name or last_name
    locked.save(update_fields=["password", "first_name", "last_name"])
    return locked
