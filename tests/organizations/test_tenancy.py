"""Tenancy: a member of one organization never reaches another organization's pages.

Walks EVERY URL pattern of the project (django.urls.get_resolver, through every
include) whose route names an organization: a `slug`/`org_slug`/`organization_slug`
or an `organization_id`/`org_id`/`organization_pk` keyword argument (the names
organizations.views_base.bind_organization reads). Each is requested by a logged-in
owner of ANOTHER organization and must answer 404, so URLs added later are covered
without touching this test. Object keyword arguments (`membership_id`, `invoice_id`,
`number`, ...) are filled with objects that belong to the victim organization, so a
view that forgot the organization check cannot pass by answering "no such object".
"""

import re
import uuid

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern
from factory.django import DjangoModelFactory

from organizations import services
from organizations.credentials import credential_create
from organizations.models import (
    AuditLogEntry,
    Credential,
    Invitation,
    Membership,
    Organization,
    PartnerLink,
    Role,
)
from organizations.views_base import ORGANIZATION_ID_KWARGS, ORGANIZATION_SLUG_KWARGS
from seats.identity import domains
from seats.models import SeatWaiter, SsoDomain
from tests import factories
from tests.billing.support import subscribed_organization
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

ORGANIZATION_KWARGS = set(ORGANIZATION_SLUG_KWARGS) | set(ORGANIZATION_ID_KWARGS)
# Each method must answer 404, or 405 when an organization that does not exist gets 405
# too (the method is refused before the organization is looked at: that reveals nothing);
# and at least one method must reach the organization check and answer 404.
METHODS = ("get", "post", "put", "patch", "delete")
NO_SUCH_SLUG = "no-such-organization-xyz"
NO_SUCH_ID = 987654321
# Plausible values for keyword arguments that name no object of the organization.
GENERIC_VALUES = {
    "format": "json",
    "year": 2026,
    "month": 3,
    "day": 1,
    "on": "2026-03-01",
    "date": "2026-03-01",
}


def _walk(patterns, prefix=()):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, (*prefix, entry.pattern))
        elif isinstance(entry, URLPattern):
            yield (*prefix, entry.pattern), entry


def _kwarg_names(parts) -> list[str]:
    names = []
    for part in parts:
        names += list(part.converters) if isinstance(part, RoutePattern) else list(part.regex.groupindex)
    return names


def organization_patterns():
    found = []
    for parts, pattern in _walk(get_resolver().url_patterns):
        names = _kwarg_names(parts)
        if ORGANIZATION_KWARGS & set(names):
            found.append((parts, pattern, names))
    return found


_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()\\]|\\.|\([^()]*\))*\)")


def _build_path(parts, values: dict) -> str:
    path = ""
    for part in parts:
        if isinstance(part, RoutePattern):
            route = str(part._route)
            path += _ROUTE_PARAM.sub(
                lambda m, part=part: str(part.converters[m["parameter"]].to_url(values[m["parameter"]])),
                route,
            )
        else:
            regex = _REGEX_GROUP.sub(lambda m: str(values[m["name"]]), part.regex.pattern)
            regex = regex.lstrip("^").rstrip("$").replace("/?", "/").replace("\\Z", "")
            path += re.sub(r"\\(.)", r"\1", regex)
    return "/" + path


def _org_scoped_models():
    return [m for m in apps.get_models() if any(f.name == "organization" for f in m._meta.fields)]


def _populate(victim):
    """Rows of every organization-owned model for the victim, through the shared factories."""
    for name in dir(factories):
        factory = getattr(factories, name)
        if not (isinstance(factory, type) and issubclass(factory, DjangoModelFactory)):
            continue  # not a factory of database rows (LineDraftFactory makes a document's line)
        model = factory._meta.get_model_class()
        if not any(f.name == "organization" for f in model._meta.fields):
            continue
        if model.objects.filter(organization=victim).exists():
            continue
        try:
            with transaction.atomic():
                factory(organization=victim)
        except Exception:  # a factory that needs more than an organization: its objects stay unfilled
            pass


# Keyword names whose model the stem rule below cannot guess (issue 19's URLs among them).
OBJECT_MODELS = {
    "domain_id": SsoDomain,
    "credential_id": Credential,
    "waiter_id": SeatWaiter,
}


def _object_value(name: str, victim, defaults=None):
    """A value for keyword `name` taken from a row of the victim organization, or None.
    `defaults`: the URL's fixed keyword arguments (a credential page's `kind`)."""
    if name in OBJECT_MODELS:
        rows = OBJECT_MODELS[name].objects.filter(organization=victim)
        if name == "credential_id" and defaults and "kind" in defaults:
            rows = rows.filter(kind=defaults["kind"])  # the victim's credential of the URL's own kind
        row = rows.order_by("pk").first()
        return None if row is None else row.pk
    if name == "client_id":  # a partner's client is an organization: the victim itself
        return victim.pk
    stem = re.sub(r"_(id|pk|uuid|number|code)$", "", name).replace("_", "")
    field = name[len(stem) + 1 :] if "_" in name else name
    for model in _org_scoped_models():
        row = model.objects.filter(organization=victim).order_by("pk").first()
        if row is None:
            continue
        if model._meta.model_name == stem:
            if field in ("id", "pk", name):
                return row.pk
            for candidate in (field, name):
                if hasattr(row, candidate):
                    return getattr(row, candidate)
            return row.pk
    for model in _org_scoped_models():  # a field of that name on any victim row (e.g. `number`)
        if name in {f.name for f in model._meta.fields} and name not in ("id", "organization"):
            row = model.objects.filter(organization=victim).order_by("pk").first()
            if row is not None:
                return getattr(row, name)
    return None


def _values(names, victim, *, slug, organization_id, defaults=None):
    values = {}
    for name in names:
        if name in ORGANIZATION_SLUG_KWARGS:
            values[name] = slug
        elif name in ORGANIZATION_ID_KWARGS:
            values[name] = organization_id
        elif name in GENERIC_VALUES:
            values[name] = GENERIC_VALUES[name]
        else:
            value = _object_value(name, victim, defaults)
            if value is None:
                value = (
                    Membership.objects.filter(organization=victim).first().pk
                    if name in ("pk", "id")
                    else None
                )
            if value is None:
                value = uuid.uuid4() if "uuid" in name else 1
            values[name] = value
    return values


@pytest.fixture
def victim(at):
    organization = OrganizationFactory(slug="victim-co")
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    MembershipFactory(organization=organization, role=Role.MEMBER)
    services.invitation_create(
        organization=organization,
        email="pending@victim.example",
        role=Role.MEMBER,
        invited_by=owner.user,
        at=at,
    )
    _populate(organization)
    return organization


def test_the_walker_sees_the_organization_pages():
    names = {pattern.name for _parts, pattern, _names in organization_patterns()}
    assert {
        "organization_overview",
        "organization_members",
        "member_invite",
        "membership_role_change",
        "membership_remove",
        "seat_reassign",
        "invitation_resend",
        "invitation_revoke",
        "organization_settings",
        "organization_audit_log",
    } <= names


def _reachable_by_a_stranger(client, victim) -> tuple[list[str], int]:
    """Request every organization URL of `victim` as an owner of another organization."""
    attacker = MembershipFactory(role=Role.OWNER, user=UserFactory(username="attacker@example.com"))
    client.force_login(attacker.user)
    failures, checked = [], 0
    for parts, pattern, names in organization_patterns():
        values = _values(names, victim, slug=victim.slug, organization_id=victim.pk)
        path = _build_path(parts, values)
        match = resolve(path)
        assert match.func == pattern.callback, f"could not build a URL for {pattern!r}: {path} went elsewhere"
        absent_values = {**values, **_values(names, victim, slug=NO_SUCH_SLUG, organization_id=NO_SUCH_ID)}
        absent = _build_path(parts, absent_values)
        statuses = {method: getattr(client, method)(path).status_code for method in METHODS}
        checked += len(statuses)
        label = pattern.name or pattern.callback.__qualname__
        for method, status in statuses.items():
            if status == 404:
                continue
            if status == 405 and getattr(client, method)(absent).status_code == 405:
                continue
            failures.append(f"{method.upper()} {path} ({label}) -> {status}")
        if 404 not in statuses.values() and not any(path in failure for failure in failures):
            failures.append(f"ANY {path} ({label}) -> no method reached the organization check")
    return failures, checked


def _victim_state(victim):
    return (
        list(Membership.objects.filter(organization=victim).values_list("pk", "role", "removed_at")),
        list(
            Invitation.objects.filter(organization=victim).values_list("status", "token_hash", "expires_at")
        ),
        AuditLogEntry.objects.filter(organization=victim).count(),
    )


def test_every_organization_url_is_404_for_a_member_of_another_organization(client, victim):
    before = _victim_state(victim)

    failures, checked = _reachable_by_a_stranger(client, victim)

    assert not failures, "Reachable by a member of another organization:\n" + "\n".join(failures)
    assert checked >= 50
    assert _victim_state(victim) == before


def test_the_walk_catches_a_page_without_the_organization_check(client, victim, settings):
    settings.ROOT_URLCONF = "tests.organizations.leaky_urls"

    failures, _checked = _reachable_by_a_stranger(client, victim)

    leak = f"/o/{victim.slug}/leak/{_object_value('membership_id', victim)}/ (leak) -> 200"
    assert failures == [f"{method} {leak}" for method in ("GET", "POST", "PUT", "PATCH", "DELETE")]


def test_a_removed_member_is_a_stranger(client, victim, at):
    membership = Membership.objects.filter(organization=victim, role=Role.MEMBER).first()
    services.membership_end(membership=membership, at=at)
    client.force_login(membership.user)
    assert client.get(f"/o/{victim.slug}/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, victim):
    response = client.get(f"/o/{victim.slug}/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


# ---------------------------------------------------------------------------
# The other way round: one's own organization in the URL, another organization's objects in it


@pytest.fixture
def victim_objects(at):
    """A victim with a row behind every object keyword: members, an invitation, invoices, and
    issue 19's SSO domain, SCIM token, API key, waiting person, and a partner that manages it."""
    organization, _subscription, owner = subscribed_organization(start=at.date())
    MembershipFactory(organization=organization, role=Role.MEMBER)
    services.invitation_create(
        organization=organization, email="pending@victim.example", role=Role.MEMBER, invited_by=owner, at=at
    )
    domains.sso_domain_add(organization=organization, domain="victim.example", at=at, acting_user=owner)
    for kind in Credential.Kind:
        scopes = ["usage:write"] if kind == Credential.Kind.API_KEY else ()
        credential_create(
            organization=organization, kind=kind, name=kind.label, at=at, acting_user=owner, scopes=scopes
        )
    SeatWaiter.objects.create(
        organization=organization,
        email="waiting@victim.example",
        source=SeatWaiter.Source.SSO,
        refusal_code="seat_unavailable",
        first_requested_at=at,
        last_requested_at=at,
    )
    firm = OrganizationFactory(is_partner=True)
    PartnerLink.objects.create(organization=organization, partner=firm, created_at=at)
    _populate(organization)
    return organization


def _objects_state(victim):
    return (
        _victim_state(victim),
        list(SsoDomain.objects.filter(organization=victim).values_list("pk", "verified_at")),
        list(Credential.objects.filter(organization=victim).values_list("pk", "revoked_at")),
        list(SeatWaiter.objects.filter(organization=victim).values_list("pk", flat=True)),
        list(PartnerLink.objects.filter(organization=victim).values_list("pk", "agreement", "ended_at")),
    )


def _object_keywords(names) -> list[str]:
    return [name for name in names if name not in ORGANIZATION_KWARGS and name not in GENERIC_VALUES]


def test_another_organizations_objects_are_404_under_ones_own_organization(client, victim_objects, at):
    """Every organization URL that names an object (a member, an invitation, an invoice, an SSO
    domain, a SCIM token, an API key, a waiting person, a client...) is requested by an owner of
    ANOTHER organization, a partner firm, under ITS OWN organization with the victim's object:
    each method answers 404 (or 405 as for an object that does not exist) and nothing changes."""
    attackers, _subscription, attacker = subscribed_organization(start=at.date())
    Organization.objects.filter(pk=attackers.pk).update(is_partner=True)
    client.force_login(attacker)
    before = _objects_state(victim_objects)
    failures, probed = [], []
    for parts, pattern, names in organization_patterns():
        objects = _object_keywords(names)
        if not objects or set(objects) <= {"code", "meter", "series"}:
            continue  # a plan code, a meter: not an organization's object
        values = _values(
            names,
            victim_objects,
            slug=attackers.slug,
            organization_id=attackers.pk,
            defaults=pattern.default_args,
        )
        path = _build_path(parts, values)
        assert resolve(path).func == pattern.callback, f"could not build a URL for {pattern!r}: {path}"
        absent = _build_path(parts, {**values, **{name: NO_SUCH_ID for name in objects if name != "token"}})
        probed.append(pattern.name)
        for method in METHODS:
            status = getattr(client, method)(path).status_code
            if status == 404:
                continue
            if status == 405 and getattr(client, method)(absent).status_code == 405:
                continue
            failures.append(f"{method.upper()} {path} ({pattern.name}) -> {status}")

    assert not failures, "Another organization's object reached:\n" + "\n".join(failures)
    assert {
        "membership_role_change",
        "seat_reassign",
        "invitation_revoke",
        "identity_sso_domain_verify",
        "identity_sso_domain_remove",
        "identity_scim_revoke",
        "usage_api_key_revoke",
        "identity_waiting_dismiss",
        "partner_company_manage",
        "api_partner_client_handover",
        "api_member_reassign",
    } <= set(probed)
    assert _objects_state(victim_objects) == before
