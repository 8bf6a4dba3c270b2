"""Issue 19, bad input: partner client creation answered 500 after creating the client, and a
retry made it twice. Now the client and its answer are one transaction, a retry is refused
with a clear 409, and a name with a line break is a 400 that stores nothing."""

import datetime as dt

import pytest

from organizations.models import Organization, PartnerLink
from partners import services as billing_partners

from .support import at, monthly_plans, partner_firm
from .support import client as make_client

pytestmark = pytest.mark.django_db

MAR_17 = dt.date(2026, 3, 17)


@pytest.fixture
def firm():
    monthly_plans()
    return partner_firm()


def create(client, partner, **payload):
    client.raise_request_exception = False
    return client.post(
        f"/api/v1/organizations/{partner.pk}/clients/",
        {"name": "T", **payload},
        content_type="application/json",
    )


def test_the_new_client_is_answered_even_where_a_search_would_not_find_it(firm, client):
    """The answer was the new client's row from a search by its slug ("t"): with 21 clients
    whose names contain a "t" and sort before it, it was on the search's second page, and the
    view raised StopIteration (500) after the client was created."""
    partner, anna = firm
    for n in range(21):
        make_client(partner, anna, name=f"Klient {n:02d}", on=MAR_17)
    client.force_login(anna)

    response = create(client, partner, name="T", plan_code="team-monthly", seats=4)

    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert (body["name"], body["slug"], body["plan"], body["seats"]) == ("T", "t", "Team", 4)
    assert PartnerLink.objects.filter(partner=partner, organization__name="T").count() == 1


def test_a_retried_creation_does_not_make_a_second_client(firm, client):
    partner, anna = firm
    client.force_login(anna)
    assert create(client, partner, name="Cykelsmeden").status_code == 201

    again = create(client, partner, name="cykelsmeden ")

    assert again.status_code == 409
    assert again.json()["code"] == "client_exists" and "Cykelsmeden" in again.json()["message"]
    assert Organization.objects.filter(name__iexact="cykelsmeden").count() == 1
    page = client.post(
        f"/o/{partner.slug}/companies/new/", {"name": "Cykelsmeden", "country": "DK", "language": "da"}
    )
    assert (
        page.status_code == 200 and "You already manage a company named Cykelsmeden" in page.content.decode()
    )
    assert Organization.objects.filter(name__iexact="cykelsmeden").count() == 1


def test_a_failure_while_answering_creates_nothing(firm, client, monkeypatch):
    partner, anna = firm
    client.force_login(anna)

    def broken(**kwargs):
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr(billing_partners, "company_rows", broken)
    assert create(client, partner, name="Smeden", plan_code="team-monthly").status_code == 500
    assert not Organization.objects.filter(name="Smeden").exists()
    monkeypatch.undo()
    monkeypatch.setattr("core.clock.now", lambda: at(MAR_17))
    assert create(client, partner, name="Smeden").status_code == 201  # the retry makes it, once


@pytest.mark.parametrize("name", ["Acme\r\nBcc: x@example.com", "Acme\nB", "Tab\there"])
def test_a_client_name_with_a_control_character_is_refused(firm, client, name):
    partner, anna = firm
    client.force_login(anna)
    before = Organization.objects.count()

    response = create(client, partner, name=name)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_name", "name")
    assert Organization.objects.count() == before
