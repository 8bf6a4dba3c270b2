"""SCIM writes: Users and Groups of one organization, within what its token may give.

Tokens are the organization's credentials of kind scim_token (organizations.credentials
makes, revokes and authenticates them); what one may give is decided here.

Resources arrive validated by scim2-models (the API parses them); these functions keep
the rows and the memberships in step with them:

- an active User holds an active membership: creating or reactivating one takes a seat
  through `seats.services.members_add`, deactivating or deleting one releases it through
  `members_remove` (the plan's removal policy applies);
- when no seat is free the person waits (`waiting.waiting_record`) and
  `SeatWaitingForScim` is raised: the User is not created (or stays inactive);
- a Group named after a role gives its member Users that role (highest wins); leaving
  the last such group makes a person a plain member again. A token gives only the roles
  its grantor may give at the time of use (`roles_grantable_with`: whoever kept it when a
  partner left, else whoever made it, as the members page would let them); a role beyond
  that refuses the whole request (403), so a token never makes an owner unless an owner
  made or kept it and still is one;
- a User's address must be in a domain the organization proved (`domains`): SCIM never
  creates, takes or reactivates a login outside them (400 invalidValue). A person who already has a
  login and is not a member is never added silently: they are e-mailed an invitation
  (`ScimInvitationSent`, 403 `invitation_sent`), and once they accepted it, creating
  the User again links it to their membership.

Protocol errors are raised as scim2-models exceptions (uniqueness, invalidValue,
mutability), refusals of the seat and membership rules as RuleViolation.
"""

import datetime as dt
import uuid

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from scim2_models import InvalidValueException, MutabilityException, UniquenessException

from organizations import services as org_services
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Credential, Membership, Organization, Role
from organizations.tenancy import membership_for, roles_grantable_by

from .. import services as seat_services
from ..models import ScimGroup, ScimUser, SeatWaiter
from .alerts import seat_alert_check
from .people import person_find, person_get_or_create, usable_email
from .scim_records import display_name, stored_attributes, user_email, user_names
from .selectors import email_domain, verified_domains
from .waiting import SEAT_REFUSALS, waiting_record

ROLE_ORDER = [Role.OWNER, Role.ADMIN, Role.FINANCE, Role.MEMBER]  # highest first
ROLE_GROUP_NAMES = {
    "owner": Role.OWNER,
    "owners": Role.OWNER,
    "admin": Role.ADMIN,
    "admins": Role.ADMIN,
    "administrators": Role.ADMIN,
    "finance": Role.FINANCE,
    "member": Role.MEMBER,
    "members": Role.MEMBER,
}


class RoleBeyondToken(RuleViolation):
    """A Group would give a role the token's grantor may not give: the request is refused."""

    code = "role_not_grantable"


class ScimInvitationSent(RuleViolation):
    """The User's address belongs to an existing login outside the organization: it was
    invited instead of added."""

    code = "invitation_sent"


class SeatWaitingForScim(RuleViolation):
    """No free seat for a User being created or reactivated; `waiter` is None when the
    resource carries no e-mail address to write the person down by."""

    def __init__(self, message: str, *, code: str, waiter: SeatWaiter | None):
        super().__init__(message, code=code)
        self.waiter = waiter


# What a token may give ---------------------------------------------------------------------


def roles_grantable_with(token: Credential) -> frozenset[str]:
    """The roles a token's Groups may give now: those its grantor (who kept it, else who made
    it) may give in the organization at this moment (tenancy.roles_grantable_by). A grantor
    who left, or a partner's person whose partner left, gives none: such a token provisions
    members only."""
    grantor = token.grantor
    if grantor is None:
        return frozenset()
    return roles_grantable_by(membership_for(grantor, token.organization))


def _ensure_token_may_give(token: Credential, *, old_role: str | None, new_role: str | None) -> None:
    """A Group's role change, a join with a role, or a departure (`new_role` None): refused
    when the token's grantor may not give the new role, or take away owner (only an owner
    does, as on the members page). Plain members come and go with any valid token."""
    grantable = roles_grantable_with(token)
    if old_role == Role.OWNER and new_role != Role.OWNER and Role.OWNER not in grantable:
        wanted = Role.OWNER
    elif new_role not in (None, Role.MEMBER) and new_role not in grantable:
        wanted = new_role
    else:
        return
    maker = getattr(token.grantor, "email", "") or "nobody now"
    raise RoleBeyondToken(
        f"This SCIM token can't give or take away the role {wanted} in {token.organization.name}: "
        f"it gives only the roles its maker ({maker}) may give there today. "
        "Ask an owner to create a token for role groups."
    )


# Users -------------------------------------------------------------------------------------


def _active_membership(organization: Organization, user) -> Membership | None:
    return Membership.objects.filter(organization=organization, user=user, removed_at__isnull=True).first()


def _role_from_groups(organization: Organization, scim_id) -> str | None:
    """The highest role of the role groups this User belongs to, or None if in none."""
    roles = {
        role
        for role, member_ids in ScimGroup.objects.filter(organization=organization)
        .exclude(role="")
        .values_list("role", "member_ids")
        if str(scim_id) in member_ids
    }
    return next((role for role in ROLE_ORDER if role in roles), None)


def _ensure_user_name_free(organization: Organization, user_name: str, *, exclude_pk=None) -> None:
    others = ScimUser.objects.annotate(key=Lower("user_name")).filter(
        organization=organization, key=user_name.lower()
    )
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise UniquenessException(detail=f"userName {user_name!r} is already taken in this organization.")


def _person_for(attributes: dict):
    """The login for a new SCIM User: by e-mail, or a new login without one."""
    email = user_email(attributes)
    given, family = user_names(attributes)
    if email:
        return person_get_or_create(email=email, first_name=given, last_name=family)
    User = get_user_model()
    user = User(username=f"scim-{uuid.uuid4().hex}", first_name=given[:150], last_name=family[:150])
    user.set_unusable_password()
    user.save()
    return user


def _join(*, record: ScimUser, token: Credential, on: dt.date, at: dt.datetime) -> None:
    """Give the record's person an active membership (taking a seat), unless they hold one.

    Their login's own address must be in a proven domain now, as when it was created: a
    User reactivated after its organization gave the domain up (maybe to the person's new
    employer) is refused like a new one (400 invalidValue)."""
    organization = record.organization
    if _active_membership(organization, record.user) is not None:
        return
    own_address = record.user.email or record.user.get_username()
    if "@" in own_address:  # logins SCIM made without an address claim nobody's
        _ensure_email_allowed(organization, own_address)
    role = _role_from_groups(organization, record.scim_id) or Role.MEMBER
    _ensure_token_may_give(token, old_role=None, new_role=role)
    seat_services.members_add(organization=organization, users=[record.user], role=role, on=on, at=at)
    seat_alert_check(organization=organization, at=at)


def _leave(*, record: ScimUser, token: Credential, on: dt.date, at: dt.datetime) -> None:
    membership = _active_membership(record.organization, record.user)
    if membership is not None:
        _ensure_token_may_give(token, old_role=membership.role, new_role=None)
        seat_services.members_remove(organization=record.organization, memberships=[membership], on=on, at=at)


def _refused_for_want_of_a_seat(
    *, organization: Organization, attributes: dict, refusal: RuleViolation, at: dt.datetime
) -> SeatWaitingForScim:
    email = user_email(attributes)
    waiter = None
    if email:
        waiter = waiting_record(
            organization=organization,
            email=email,
            name=display_name(attributes),
            source=SeatWaiter.Source.SCIM,
            refusal=refusal,
            at=at,
            scim_attributes=stored_attributes(attributes),
        )
        detail = (
            f"No free seat in {organization.name}: {refusal.message} {email} is now waiting for a seat; "
            "the organization's owners were e-mailed and are admitted once they buy seats."
        )
    else:
        detail = f"No free seat in {organization.name}: {refusal.message}"
    return SeatWaitingForScim(detail, code=refusal.code, waiter=waiter)


def _ensure_email_allowed(organization: Organization, email: str) -> None:
    """SCIM creates logins only for addresses of the organization's proven domains."""
    if not usable_email(email):
        raise InvalidValueException(detail=f"{email[:100]} is not an e-mail address a login can have.")
    domains = verified_domains(organization=organization)
    if email_domain(email) not in domains:
        proven = ", ".join(sorted(domains)) or "none yet"
        raise InvalidValueException(
            detail=(
                f"{email} is outside the e-mail domains {organization.name} has verified ({proven}). "
                "An owner adds and verifies domains on the organization's single sign-on page; people of "
                "other domains join by invitation."
            )
        )


def _invite_instead(*, organization: Organization, email: str, at: dt.datetime) -> ScimInvitationSent:
    """Invite an existing login rather than adding it: joining takes that person's consent."""
    try:
        org_services.invitation_create(
            organization=organization,
            email=email,
            role=Role.MEMBER,
            invited_by=None,
            at=at,
        )
    except RuleViolation as refusal:
        if refusal.code != "invitation_pending":
            raise
    return ScimInvitationSent(
        f"{email} already has a Seatbill account, so it is not added to {organization.name} without their "
        "consent: they have an invitation by e-mail. Once they accept it, create this User again to link it."
    )


def scim_user_create(
    *,
    organization: Organization,
    attributes: dict,
    token: Credential,
    on: dt.date,
    at: dt.datetime,
) -> ScimUser:
    """Create a User (its request already validated). An active one takes a seat."""
    attributes = stored_attributes(attributes)
    user_name = attributes.get("userName") or ""
    active = attributes.get("active", True) is not False
    email = user_email(attributes)
    if email:
        _ensure_email_allowed(organization, email)
        existing = person_find(email=email)
        if (
            existing is not None
            and _active_membership(organization, existing) is None
            and not ScimUser.objects.filter(organization=organization, user=existing).exists()
        ):
            _ensure_user_name_free(organization, user_name)
            raise _invite_instead(organization=organization, email=email, at=at)
    try:
        with transaction.atomic():
            _ensure_user_name_free(organization, user_name)
            person = person_find(email=email) if email else None
            if (
                person is not None
                and ScimUser.objects.filter(organization=organization, user=person).exists()
            ):
                raise UniquenessException(detail=f"{email} is already provisioned as another User.")
            if person is None:
                person = _person_for(attributes)
            try:
                with transaction.atomic():
                    record = ScimUser.objects.create(
                        organization=organization,
                        user=person,
                        user_name=user_name,
                        external_id=attributes.get("externalId") or "",
                        email=email,
                        active=active,
                        attributes=attributes,  # an unassigned `active` reads as active
                        created_at=at,
                        updated_at=at,
                    )
            except IntegrityError:
                raise UniquenessException(detail=f"userName {user_name!r} is already taken.") from None
            if active:
                _join(record=record, token=token, on=on, at=at)
            audit_record(
                organization=organization,
                actor=None,
                action="scim.user_created",
                at=at,
                target=user_name[:200],
                details={"token": token.prefix},
            )
            return record
    except RuleViolation as refusal:
        if refusal.code not in SEAT_REFUSALS:
            raise
        raise _refused_for_want_of_a_seat(
            organization=organization, attributes=attributes, refusal=refusal, at=at
        ) from None


def scim_user_update(
    *,
    record: ScimUser,
    attributes: dict,
    token: Credential,
    on: dt.date,
    at: dt.datetime,
) -> ScimUser:
    """Replace a User's attributes (PUT, or the result of a PATCH). `active` turning false
    releases the seat; turning true takes one."""
    organization = record.organization
    attributes = stored_attributes(attributes)
    user_name = attributes.get("userName") or ""
    active = attributes.get("active", True) is not False
    try:
        with transaction.atomic():
            locked = (
                ScimUser.objects.select_for_update().select_related("organization", "user").get(pk=record.pk)
            )
            _ensure_user_name_free(organization, user_name, exclude_pk=locked.pk)
            was_active = locked.active
            locked.user_name = user_name
            locked.external_id = attributes.get("externalId") or ""
            locked.email = user_email(attributes)
            locked.active = active
            locked.attributes = attributes
            locked.updated_at = at
            locked.version += 1
            locked.save()
            if active and not was_active:
                _join(record=locked, token=token, on=on, at=at)
            elif was_active and not active:
                _leave(record=locked, token=token, on=on, at=at)
            audit_record(
                organization=organization,
                actor=None,
                action="scim.user_updated",
                at=at,
                target=user_name[:200],
                details={"active": active} if active != was_active else {},
            )
            return locked
    except RuleViolation as refusal:
        if refusal.code not in SEAT_REFUSALS:
            raise
        raise _refused_for_want_of_a_seat(
            organization=organization, attributes=attributes, refusal=refusal, at=at
        ) from None


@transaction.atomic
def scim_user_delete(*, record: ScimUser, token: Credential, on: dt.date, at: dt.datetime) -> None:
    """Delete a User: its membership ends (seat released per the plan) and it leaves its groups."""
    locked = ScimUser.objects.select_for_update().select_related("organization", "user").get(pk=record.pk)
    if locked.active:
        _leave(record=locked, token=token, on=on, at=at)
    _drop_member_everywhere(locked.organization, str(locked.scim_id), at)
    locked.delete()
    audit_record(
        organization=locked.organization,
        actor=None,
        action="scim.user_deleted",
        at=at,
        target=locked.user_name[:200],
    )


def scim_users_mark_inactive(*, organization: Organization, user_ids: list[int], at: dt.datetime) -> None:
    """These people's memberships ended outside SCIM (a leaving partner's people): their Users
    read inactive, as an active User holds a membership; the provider can reactivate them."""
    for record in ScimUser.objects.select_for_update().filter(
        organization=organization, user_id__in=user_ids, active=True
    ):
        record.active = False
        record.attributes = {**record.attributes, "active": False}
        record.updated_at = at
        record.version += 1
        record.save(update_fields=["active", "attributes", "updated_at", "version"])


# Groups ------------------------------------------------------------------------------------


def role_for_group_name(name: str) -> str:
    return ROLE_GROUP_NAMES.get((name or "").strip().lower(), "")


def _member_ids(organization: Organization, attributes: dict) -> list[str]:
    """The scim_ids the group's members name, each a User or Group of this organization."""
    ids = []
    for member in attributes.get("members") or []:
        value = str(member.get("value") or "")
        if value and value not in ids:
            ids.append(value)
    if not ids:
        return ids
    try:
        uuids = [uuid.UUID(value) for value in ids]
    except ValueError:
        uuids = None
    known = set()
    if uuids is not None:
        known = {
            str(v)
            for v in ScimUser.objects.filter(organization=organization, scim_id__in=uuids).values_list(
                "scim_id", flat=True
            )
        }
        known |= {
            str(v)
            for v in ScimGroup.objects.filter(organization=organization, scim_id__in=uuids).values_list(
                "scim_id", flat=True
            )
        }
    unknown = [value for value in ids if value not in known]
    if unknown:
        raise InvalidValueException(
            detail=f"No such User or Group in this organization: {', '.join(unknown)}."
        )
    return ids


def _ensure_display_name_free(organization: Organization, name: str, *, exclude_pk=None) -> None:
    others = ScimGroup.objects.annotate(key=Lower("display_name")).filter(
        organization=organization, key=name.lower()
    )
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise UniquenessException(detail=f"A group named {name!r} exists already.")


def _apply_roles(organization: Organization, scim_ids: set[str], token: Credential, at: dt.datetime) -> None:
    """Give each affected, active User the role their role groups say (member if none),
    within what the token may give."""
    records = ScimUser.objects.filter(
        organization=organization, scim_id__in=[uuid.UUID(i) for i in scim_ids if _is_uuid(i)]
    )
    for record in records.select_related("user"):
        membership = _active_membership(organization, record.user)
        if membership is None:
            continue
        role = _role_from_groups(organization, record.scim_id) or Role.MEMBER
        if membership.role != role:
            _ensure_token_may_give(token, old_role=membership.role, new_role=role)
            org_services.membership_role_change(
                membership=membership, role=role, at=at, acting_user=None, via=f"scim:{token.prefix}"
            )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _write_group(*, group: ScimGroup, attributes: dict, token: Credential, at: dt.datetime) -> ScimGroup:
    """Store the group's attributes and recompute the roles of everyone it touched."""
    organization = group.organization
    name = attributes.get("displayName") or ""
    _ensure_display_name_free(organization, name, exclude_pk=group.pk)
    old_ids = set(group.member_ids)
    old_role = group.role
    group.display_name = name
    group.external_id = attributes.get("externalId") or ""
    group.role = role_for_group_name(name)
    group.member_ids = _member_ids(organization, attributes)
    group.attributes = {k: v for k, v in attributes.items() if k not in ("id", "meta")}
    group.updated_at = at
    if group.pk:
        group.version += 1
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        raise UniquenessException(detail=f"A group named {name!r} exists already.") from None
    if group.role or old_role:
        changed = (
            old_ids ^ set(group.member_ids) if group.role == old_role else old_ids | set(group.member_ids)
        )
        _apply_roles(organization, changed, token, at)
    return group


def _refuse_role_rule(refusal: RuleViolation):
    if isinstance(refusal, RoleBeyondToken):
        return refusal  # the API answers 403
    return MutabilityException(detail=refusal.message)


def scim_group_create(
    *, organization: Organization, attributes: dict, token: Credential, at: dt.datetime
) -> ScimGroup:
    try:
        with transaction.atomic():
            group = _write_group(
                group=ScimGroup(organization=organization, created_at=at),
                attributes=attributes,
                token=token,
                at=at,
            )
            audit_record(
                organization=organization,
                actor=None,
                action="scim.group_created",
                at=at,
                target=group.display_name[:200],
            )
            return group
    except RuleViolation as refusal:
        raise _refuse_role_rule(refusal) from None


def scim_group_update(*, group: ScimGroup, attributes: dict, token: Credential, at: dt.datetime) -> ScimGroup:
    try:
        with transaction.atomic():
            locked = ScimGroup.objects.select_for_update().select_related("organization").get(pk=group.pk)
            return _write_group(group=locked, attributes=attributes, token=token, at=at)
    except RuleViolation as refusal:
        raise _refuse_role_rule(refusal) from None


def scim_group_delete(*, group: ScimGroup, token: Credential, at: dt.datetime) -> None:
    try:
        with transaction.atomic():
            locked = ScimGroup.objects.select_for_update().select_related("organization").get(pk=group.pk)
            organization, members, role = locked.organization, set(locked.member_ids), locked.role
            _drop_member_everywhere(organization, str(locked.scim_id), at)
            locked.delete()
            if role:
                _apply_roles(organization, members, token, at)
            audit_record(
                organization=organization,
                actor=None,
                action="scim.group_deleted",
                at=at,
                target=locked.display_name[:200],
            )
    except RuleViolation as refusal:
        raise _refuse_role_rule(refusal) from None


def _drop_member_everywhere(organization: Organization, scim_id: str, at: dt.datetime) -> None:
    # Groups per organization are few; a JSON containment lookup would not run on SQLite (make run).
    for group in ScimGroup.objects.select_for_update().filter(organization=organization).order_by("pk"):
        if scim_id not in group.member_ids:
            continue
        group.member_ids = [i for i in group.member_ids if i != scim_id]
        members = group.attributes.get("members") or []
        group.attributes = {
            **group.attributes,
            "members": [m for m in members if str(m.get("value")) != scim_id],
        }
        group.updated_at = at
        group.version += 1
        group.save(update_fields=["member_ids", "attributes", "updated_at", "version"])
