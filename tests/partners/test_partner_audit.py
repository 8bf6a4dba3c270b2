"""Issue 19: what a partner's person does while acting for a client is in the client's audit log
as "X of Partner acting for Y", with the partner kept on the entry; credentials record who made
them and as which partner. One code path: audit.audit_record asks the tenancy rule."""

import datetime as dt

import pytest
from django.conf import settings

from organizations.models import AuditLogEntry, Role

from .support import add_member, monthly_plans, partner_firm
from .support import client as make_client

pytestmark = pytest.mark.django_db

MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)


@pytest.fixture
def bakery():
    partner, anna = partner_firm()
    team, _plus = monthly_plans()
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    return partner, anna, link


def test_a_partners_person_is_logged_as_acting_for_the_client(bakery, client):
    partner, anna, link = bakery
    slug = link.organization.slug
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    client.post(
        f"/o/{slug}/api-keys/", {"name": "Produktion", "scopes": ["usage:write", "entitlements:read"]}
    )
    client.post(f"/o/{slug}/settings/", {"legal_name": "Bageriet Hansen ApS", "country": "DK"})
    client.post(f"/o/{slug}/members/invite/", {"email": "svend@bageriet.dk", "role": "member"})

    entries = AuditLogEntry.objects.filter(organization=link.organization, actor=anna)
    actions = set(entries.values_list("action", flat=True))
    assert {
        "partner.acting",
        "api_key.created",
        "organization.billing_details_updated",
        "invitation.created",
    } <= actions
    assert {entry.acting_for_partner for entry in entries} == {partner}
    assert {entry.who for entry in entries} == {
        "anna@revisorhuset.dk of Revisorhuset acting for Bageriet Hansen"
    }
    created = entries.get(action="api_key.created")
    assert created.details["created_as_partner"] == "Revisorhuset"
    # The client's own log page says so; the partner's own log does not (Anna is its owner).
    log = client.get(f"/o/{slug}/audit/").content.decode()
    assert "anna@revisorhuset.dk of Revisorhuset acting for Bageriet Hansen" in log
    own = AuditLogEntry.objects.filter(organization=partner, action="partner.client_created").get()
    assert own.acting_for_partner is None and own.who == "anna@revisorhuset.dk"


def test_the_clients_own_people_are_logged_as_themselves(bakery, client):
    partner, anna, link = bakery
    owner = add_member(link.organization, "ejer@bageriet.dk", Role.OWNER, MAR_17)
    client.force_login(owner)
    client.post(
        f"/o/{link.organization.slug}/api-keys/",
        {"name": "Egen", "scopes": ["usage:write", "entitlements:read"]},
    )
    entry = AuditLogEntry.objects.get(organization=link.organization, action="api_key.created")
    assert (entry.acting_for_partner, entry.who) == (None, "ejer@bageriet.dk")
    assert entry.details["created_as_partner"] is None


def test_the_log_says_it_in_the_readers_language(bakery, client):
    partner, anna, link = bakery
    client.force_login(anna)
    client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "da"
    page = client.get(f"/o/{link.organization.slug}/audit/").content.decode()
    assert "anna@revisorhuset.dk fra Revisorhuset på vegne af Bageriet Hansen" in page
