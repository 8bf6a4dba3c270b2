"""Units through the API (/api/v1/organizations/<id>/units/): the SaaS with the organization's
API key, owners with their session. Roles and another organization's owner are in the tables of
tests/billing/test_api.py; here: the key's tenancy, the answers, idempotency, errors.

Acme (DK, 25 %) on a monthly plan from 1 March 2026 with phone numbers at 6.00, two committed,
at most 10. The clock stands on 17 March 2026 09:00 UTC: 15/31 of March is left, so a number
bought now is 6.00 x 15/31 = 2.90 (2.9032), 3.63 with VAT.
"""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from billing.models import PlanUnitType, Unit, UnitItem
from invoices.models import Invoice
from organizations.credentials import credential_create
from organizations.models import Credential
from tests.billing.support import at, subscribed_organization

pytestmark = pytest.mark.django_db

MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)


@pytest.fixture
def clock_start():
    return at(MAR_17)


class Customer:
    def __init__(self):
        self.organization, self.subscription, self.owner = subscribed_organization(
            start=MAR_1,
            seats=1,
            interval="month",
            base_price_minor=1000,
            seat_price_minor=1000,
            seat_removal="none",
            seat_invoicing="immediate",
            proration="day",
        )
        PlanUnitType.objects.create(
            plan=self.subscription.plan,
            code="phone_numbers",
            name="Phone numbers",
            unit_price_minor=600,
            committed=2,
            max_units=10,
        )
        _key, self.secret = credential_create(
            organization=self.organization,
            kind=Credential.Kind.API_KEY,
            name="Backend",
            at=at(MAR_1),
            scopes=["units:read", "units:write"],
        )

    def url(self, tail: str = "") -> str:
        return f"/api/v1/organizations/{self.organization.pk}/units/{tail}"

    def key_client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.secret}")
        return client

    def state(self):
        return (
            list(
                Unit.objects.filter(organization=self.organization).values_list("pk", "label", "deleted_at")
            ),
            list(UnitItem.objects.filter(organization=self.organization).values_list("billed")),
            Invoice.objects.filter(organization=self.organization).count(),
        )


@pytest.fixture
def acme():
    return Customer()


def test_the_saas_creates_numbers_with_its_key_and_those_beyond_the_commitment_are_invoiced(acme):
    client = acme.key_client()

    first = client.post(
        acme.url(), {"unit": "phone_numbers", "labels": ["+4570000001", "+4570000002"]}, format="json"
    )
    assert first.status_code == 201, first.json()
    assert first.json()["invoices"] == []  # the two committed numbers are paid already

    third = client.post(acme.url(), {"unit": "phone_numbers", "labels": ["+4570000003"]}, format="json")
    assert third.status_code == 201
    (invoice,) = third.json()["invoices"]
    assert (invoice["reason"], invoice["total"]) == ("seat_change", "3.63")
    assert [u["label"] for u in third.json()["units"]] == ["+4570000003"]

    listing = client.get(acme.url()).json()
    (numbers,) = listing["unit_types"]
    assert {k: numbers[k] for k in ("code", "created", "included", "additional", "billed", "free")} == {
        "code": "phone_numbers",
        "created": 3,
        "included": 2,
        "additional": 1,
        "billed": 3,
        "free": 0,
    }
    assert numbers["unit_price"] == "6.00"
    assert [u["label"] for u in listing["units"]] == ["+4570000001", "+4570000002", "+4570000003"]


def test_a_deleted_number_stays_paid_and_is_reused_by_the_next_one(acme):
    client = acme.key_client()
    created = client.post(acme.url(), {"unit": "phone_numbers", "count": 3}, format="json").json()
    unit_id = created["units"][0]["id"]

    deleted = client.delete(acme.url(f"{unit_id}/"))
    assert deleted.status_code == 200
    assert deleted.json() == {"credit_notes": []}  # not refundable: it stays paid until renewal
    assert client.get(acme.url(f"{unit_id}/")).status_code == 404
    assert client.delete(acme.url(f"{unit_id}/")).status_code == 404
    invoices = Invoice.objects.filter(organization=acme.organization).count()

    reused = client.post(acme.url(), {"unit": "phone_numbers", "count": 1}, format="json")

    assert reused.status_code == 201 and reused.json()["invoices"] == []
    assert Invoice.objects.filter(organization=acme.organization).count() == invoices
    assert UnitItem.objects.get(subscription=acme.subscription).billed == 3


def test_a_key_is_bound_to_its_own_organization(acme):
    other = Customer()
    (theirs,) = (
        other.key_client()
        .post(other.url(), {"unit": "phone_numbers", "count": 1}, format="json")
        .json()["units"]
    )
    before = other.state(), acme.state()

    client = acme.key_client()
    assert client.get(other.url()).status_code == 404
    assert client.post(other.url(), {"unit": "phone_numbers", "count": 1}, format="json").status_code == 404
    assert client.delete(other.url(f"{theirs['id']}/")).status_code == 404
    # Another organization's unit id under one's own organization: 404 too, and nothing changes.
    assert client.get(acme.url(f"{theirs['id']}/")).status_code == 404
    assert client.delete(acme.url(f"{theirs['id']}/")).status_code == 404
    assert (other.state(), acme.state()) == before


def test_the_same_idempotency_key_creates_once(acme):
    client = acme.key_client()
    body = {"unit": "phone_numbers", "count": 3}

    first = client.post(acme.url(), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(acme.url(), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Unit.objects.filter(organization=acme.organization).count() == 3
    reused = client.post(acme.url(), {**body, "count": 4}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"unit": "phone_numbers", "count": 11}, 409, "max_units_exceeded"),
        ({"unit": "fax_lines", "count": 1}, 400, "invalid_unit_type"),
        ({"unit": "phone_numbers"}, 400, "invalid"),
        ({"unit": "phone_numbers", "count": 1, "labels": ["x"]}, 400, "invalid"),
        ({"unit": "phone_numbers", "count": 0}, 400, "invalid"),
        ({"unit": "phone_numbers", "labels": ["dup", "dup"]}, 409, "duplicate_label"),
        ({"unit": "phone_numbers", "count": 1, "state_token": "0" * 32}, 409, "preview_stale"),
    ],
)
def test_refusals_answer_one_error_format_and_change_nothing(acme, body, status, code):
    before = acme.state()
    response = acme.key_client().post(acme.url(), body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert set(response.json()) >= {"code", "message", "field"}
    assert acme.state() == before


def test_the_preview_then_create_with_its_token_invoices_exactly_the_previewed_amount(acme):
    client = APIClient()
    client.force_login(acme.owner)
    client.post(acme.url(), {"unit": "phone_numbers", "count": 2}, format="json")

    preview = client.post(acme.url("preview"), {"unit": "phone_numbers", "count": 1}, format="json").json()
    assert preview["allowed"] and preview["amount_due_now"] == "3.63"
    done = client.post(
        acme.url(),
        {"unit": "phone_numbers", "count": 1, "state_token": preview["state_token"]},
        format="json",
    )
    assert done.status_code == 201
    assert done.json()["invoices"][0]["total"] == "3.63"
