"""Phone numbers on the seats page (seed 001): the owners' table lists seats and every unit type
(created / included / additional); owners add a number (review the cost, then confirm) and
delete one; other roles and other organizations cannot.

Rheinfon (DE, 19 %) on a monthly plan from 1 May 2026: seats at 30.00 (5 committed), phone
numbers at 6.00 (2 committed, at most 3). The page is read on 20 May: 12/31 of May is left, so
a number beyond the commitment is 6.00 x 12/31 = 2.32 (2.3226), 2.76 with VAT.
"""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model

from billing.models import PlanUnitType, Unit
from invoices.models import Invoice
from organizations.models import Role
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

MAY_1 = dt.date(2026, 5, 1)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rheinfon():
    organization, subscription, owner = subscribed_organization(
        start=MAY_1,
        seats=5,
        committed_seats=5,
        country="DE",
        interval="month",
        base_price_minor=0,
        seat_price_minor=3000,
        seat_removal="none",
        seat_invoicing="immediate",
        proration="day",
    )
    PlanUnitType.objects.create(
        plan=subscription.plan,
        code="phone_numbers",
        name="Phone numbers",
        unit_price_minor=600,
        committed=2,
        max_units=3,
    )
    return organization, owner


def rows(response) -> dict:
    """{unit type: {column: value}} of the owners' table."""
    html = response.content.decode()
    table = {}
    for code, cells in re.findall(r'<tr data-unit="(\w+)">(.*?)</tr>', html, re.S):
        table[code] = {name: int(value) for name, value in re.findall(r'data-column="(\w+)">(\d+)<', cells)}
    return table


def add(client, organization, label):
    base = f"/o/{organization.slug}/units/phone_numbers"
    preview = client.get(
        f"{base}/preview/", {"label": label}, HTTP_HX_TARGET="unit-editor-phone_numbers", **HTMX
    )
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]
    return preview, client.post(f"{base}/create/", {"label": label, "state_token": token}, **HTMX)


def test_the_owners_table_lists_seats_and_phone_numbers(client, rheinfon):
    organization, owner = rheinfon
    client.force_login(owner)

    table = rows(client.get(f"/o/{organization.slug}/seats/"))

    assert table["seats"] == {"created": 1, "included": 5, "additional": 0, "total": 5, "free": 4}
    assert table["phone_numbers"] == {"created": 0, "included": 2, "additional": 0, "total": 2, "free": 2}


def test_numbers_beyond_the_commitment_are_invoiced_at_once_deleted_and_reused(client, rheinfon):
    organization, owner = rheinfon
    client.force_login(owner)
    for label in ("+49 221 1", "+49 221 2"):
        preview, done = add(client, organization, label)
        assert "No charge: it takes a place already paid for." in preview.content.decode()
        assert done["HX-Redirect"].startswith(f"/o/{organization.slug}/seats/")
    invoices = Invoice.objects.filter(organization=organization).count()

    preview, done = add(client, organization, "+49 221 3")

    assert "2.76" in preview.content.decode() and "<html" not in preview.content.decode()
    assert Invoice.objects.filter(organization=organization).count() == invoices + 1
    assert Invoice.objects.filter(organization=organization).order_by("-sequence").first().total_minor == 276
    page = client.get(f"/o/{organization.slug}/seats/")
    assert rows(page)["phone_numbers"] == {
        "created": 3,
        "included": 2,
        "additional": 1,
        "total": 3,
        "free": 0,
    }
    assert "+49 221 3 added. Its invoice is under Invoices." in page.content.decode()
    assert "The plan allows no more." in page.content.decode()

    third = Unit.objects.get(organization=organization, label="+49 221 3")
    client.post(f"/o/{organization.slug}/units/phone_numbers/{third.pk}/delete/", **HTMX)
    assert rows(client.get(f"/o/{organization.slug}/seats/"))["phone_numbers"]["free"] == 1

    _preview, _done = add(client, organization, "+49 221 4")
    assert Invoice.objects.filter(organization=organization).count() == invoices + 1  # reused, no charge


def test_a_stale_preview_adds_nothing_and_shows_the_new_cost(client, rheinfon):
    organization, owner = rheinfon
    client.force_login(owner)
    base = f"/o/{organization.slug}/units/phone_numbers"
    preview = client.get(f"{base}/preview/", {"label": "+49 1"})
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]
    add(client, organization, "+49 2")  # meanwhile

    stale = client.post(f"{base}/create/", {"label": "+49 1", "state_token": token})

    assert "Something changed since you reviewed this" in stale.content.decode()
    assert not Unit.objects.filter(organization=organization, label="+49 1").exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE, Role.MEMBER])
def test_only_owners_add_or_delete_numbers(client, rheinfon, role):
    organization, owner = rheinfon
    unit = Unit.objects.create(
        organization=organization, code="phone_numbers", label="+49 9", created_on=MAY_1, created_at=at(MAY_1)
    )
    client.force_login(MembershipFactory(organization=organization, role=role).user)
    base = f"/o/{organization.slug}/units/phone_numbers"

    assert client.get(f"{base}/preview/", {"label": "+49 1"}).status_code == 403
    assert client.post(f"{base}/create/", {"label": "+49 1", "state_token": "0" * 32}).status_code == 403
    assert client.post(f"{base}/{unit.pk}/delete/").status_code == 403
    assert Unit.objects.filter(organization=organization, deleted_at__isnull=True).count() == 1


def test_another_organizations_number_is_404(client, rheinfon):
    organization, _owner = rheinfon
    theirs = Unit.objects.create(
        organization=organization, code="phone_numbers", label="+49 9", created_on=MAY_1, created_at=at(MAY_1)
    )
    other, other_owner = subscribed_organization(start=MAY_1, seats=1)[0::2]
    PlanUnitType.objects.create(
        plan=other.subscriptions.get().plan, code="phone_numbers", name="Numbers", unit_price_minor=100
    )
    client.force_login(other_owner)

    response = client.post(f"/o/{other.slug}/units/phone_numbers/{theirs.pk}/delete/")

    assert response.status_code == 404
    assert Unit.objects.get(pk=theirs.pk).deleted_at is None
    assert get_user_model().objects.filter(pk=other_owner.pk).exists()
