"""The API under /api/v1/organizations/<id>/: every endpoint, its roles and its tenancy.

The team (Acme, DK, 25 % VAT) is on a monthly plan (20.00 base + 10.00 a seat beyond 3)
with 6 seats from 1 March 2026 and four members: owner, admin, finance, member. The
clock is frozen on 17 March 2026 09:00 UTC, so 15/31 of March is left.
"""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from api.urls import organization_patterns
from billing import services as engine
from billing.models import PlanSeatPrice, PlanUnitType, SeatIntervalChange, Subscription, Unit
from billing.selectors import seats_total, subscription_live
from invoices.models import CreditNote, Invoice
from organizations import services as org_services
from organizations.credentials import credential_create
from organizations.models import AuditLogEntry, Credential, Invitation, Membership, Role
from seats import services as seat_services
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory, PlanFactory, UserFactory
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)
NOW = at(MAR_17)


@pytest.fixture
def clock_start():
    return NOW


class Team:
    def __init__(self, *, seats=6, **plan_fields):
        self.organization, self.subscription, owner_user = subscribed_organization(
            start=MAR_1,
            seats=seats,
            base_price_minor=2000,
            seat_price_minor=1000,
            included_seats=3,
            **plan_fields,
        )
        self.plan = self.subscription.plan
        self.members = {Role.OWNER: Membership.objects.get(organization=self.organization, user=owner_user)}
        for role in (Role.ADMIN, Role.FINANCE, Role.MEMBER):
            self.members[role] = MembershipFactory(organization=self.organization, role=role)

    def seats_needed(self) -> None:
        """Two more members: all 6 seats needed (a plan change carries over only those)."""
        for _ in range(2):
            MembershipFactory(organization=self.organization, role=Role.MEMBER)

    def url(self, tail: str = "") -> str:
        return f"/api/v1/organizations/{self.organization.pk}/{tail}"

    def client(self, role=Role.OWNER) -> APIClient:
        client = APIClient()
        client.force_login(self.members[role].user)
        return client

    def state(self):
        """Everything an API call could change, to assert that a refused one changed nothing."""
        organization = self.organization
        subscription = subscription_live(organization=organization)
        return (
            list(Invoice.objects.filter(organization=organization).values_list("pk", "total_minor")),
            list(CreditNote.objects.filter(organization=organization).values_list("pk", "total_minor")),
            list(
                Membership.objects.filter(organization=organization).values_list("pk", "role", "removed_at")
            ),
            list(Invitation.objects.filter(organization=organization).values_list("pk", "status")),
            (subscription.plan_id, seats_total(subscription=subscription)),
            AuditLogEntry.objects.filter(organization=organization).count(),
            SeatIntervalChange.objects.filter(organization=organization).count(),
            list(Unit.objects.filter(organization=organization).values_list("pk", "deleted_at")),
            list(
                WebhookEndpoint.objects.filter(organization=organization).values_list(
                    "pk", "url", "events", "secret", "active"
                )
            ),
            WebhookDelivery.objects.filter(organization=organization).count(),
            list(Credential.objects.filter(organization=organization).values_list("pk", "revoked_at")),
        )

    def unit(self) -> Unit:
        """A live phone number, on a unit type of the current plan (made on first use)."""
        subscription = subscription_live(organization=self.organization)
        PlanUnitType.objects.get_or_create(
            plan=subscription.plan,
            code="phone_numbers",
            defaults={"name": "Phone numbers", "unit_price_minor": 500, "max_units": 10},
        )
        unit = Unit.objects.filter(organization=self.organization, deleted_at__isnull=True).first()
        return unit or Unit.objects.create(
            organization=self.organization,
            code="phone_numbers",
            label="+45 70 00 00 01",
            created_on=MAR_17,
            created_at=NOW,
        )


@pytest.fixture
def team():
    return Team()


def downgrade_with_credit(team: Team) -> CreditNote:
    """A change to a cheaper plan on 17 March: the net credit becomes a credit note."""
    smaller = PlanFactory(base_price_minor=500, seat_price_minor=200, included_seats=1, max_seats=10)
    engine.plan_change(
        organization=team.organization,
        plan=smaller,
        on=MAR_17,
        at=NOW,
        acting_user=team.members[Role.OWNER].user,
    )
    return CreditNote.objects.get(organization=team.organization)


def preview(client, url, body) -> dict:
    response = client.post(url, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


# Plans and subscription ------------------------------------------------------------------


def test_plans_lists_the_public_plans_with_amounts_as_strings(team):
    PlanFactory(code="secret", is_public=False)
    response = team.client(Role.MEMBER).get(team.url("plans/"))
    assert response.status_code == 200
    plans = {plan["code"]: plan for plan in response.json()}
    assert "secret" not in plans
    ours = plans[team.plan.code]
    assert (ours["base_price"], ours["seat_price"], ours["currency"]) == ("20.00", "10.00", "EUR")
    assert (ours["included_seats"], ours["max_seats"], ours["current"]) == (3, 50, True)
    assert ours["seat_prices"] == [] and ours["limits"] == []


def test_subscription_shows_plan_status_period_and_seats(team):
    response = team.client(Role.MEMBER).get(team.url("subscription/"))
    assert response.status_code == 200
    assert response.json() == {
        "id": team.subscription.pk,
        "plan": {"code": team.plan.code, "name": team.plan.name, "interval": "month", "currency": "EUR"},
        "status": "active",
        "current_period_start": "2026-03-01",
        "current_period_end": "2026-04-01",
        "committed_seats": 0,
        "cancel_at_period_end": False,
        "auto_renew": True,
        "seats": {"seats": 6, "members": 4, "free": 2, "included": 3, "committed": 0, "max_seats": 50},
    }


def test_an_organization_without_a_subscription_answers_404_no_subscription(team):
    Subscription.objects.filter(pk=team.subscription.pk).update(status=Subscription.Status.CANCELED)
    response = team.client().get(team.url("subscription/"))
    assert response.status_code == 404
    assert response.json()["code"] == "no_subscription"


# Plan changes ----------------------------------------------------------------------------


def test_plan_change_preview_then_confirm_charges_exactly_the_previewed_amount(team):
    team.seats_needed()
    bigger = PlanFactory(base_price_minor=5000, seat_price_minor=1500, included_seats=5)
    client = team.client()
    before = team.state()

    shown = preview(client, team.url("subscription/plan-change/preview"), {"plan_code": bigger.code})

    assert team.state() == before, "a preview changes nothing"
    assert shown["allowed"] is True and shown["refusal"] is None
    (document,) = shown["documents"]
    # 15/31 left: credit 20.00 base and 3 seats, charge 50.00 base and 1 seat (6 seats, 5 included).
    assert [line["amount"] for line in document["lines"]] == ["-9.68", "-14.52", "24.19", "7.26"]
    assert [line["fraction"] for line in document["lines"]] == ["15/31"] * 4
    assert (document["type"], document["subtotal"], document["tax_rate"], document["tax"]) == (
        "invoice",
        "7.25",
        "25",
        "1.81",
    )
    assert (document["total"], document["amount_due"], shown["amount_due_now"], shown["currency"]) == (
        "9.06",
        "9.06",
        "9.06",
        "EUR",
    )

    response = client.post(
        team.url("subscription/plan-change"),
        {"plan_code": bigger.code, "state_token": shown["state_token"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["subscription"]["plan"]["code"] == bigger.code
    (issued,) = body["invoices"]
    assert (issued["reason"], issued["total"], issued["amount_due"]) == ("plan_change", "9.06", "9.06")
    invoice = Invoice.objects.get(organization=team.organization, reason="plan_change")
    assert (invoice.pk, invoice.amount_due_minor) == (issued["id"], 906)
    assert [line.amount_minor for line in invoice.lines.all()] == [-968, -1452, 2419, 726]


def test_a_plan_change_with_a_net_credit_answers_the_credit_note(team):
    team.seats_needed()
    smaller = PlanFactory(base_price_minor=500, seat_price_minor=200, included_seats=1, max_seats=10)
    client = team.client()
    shown = preview(client, team.url("subscription/plan-change/preview"), {"plan_code": smaller.code})
    (document,) = shown["documents"]
    assert (document["type"], document["subtotal"], shown["credited"], shown["amount_due_now"]) == (
        "credit_note",
        "16.94",
        document["total"],
        "0.00",
    )

    response = client.post(
        team.url("subscription/plan-change"),
        {"plan_code": smaller.code, "state_token": shown["state_token"]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["invoices"] == []
    (note,) = response.json()["credit_notes"]
    assert (note["subtotal"], note["total"]) == ("16.94", document["total"])


def test_a_downgrade_below_the_members_is_refused_with_the_reason_and_changes_nothing(team):
    tiny = PlanFactory(included_seats=1, max_seats=2)
    client = team.client()
    before = team.state()

    shown = preview(client, team.url("subscription/plan-change/preview"), {"plan_code": tiny.code})
    response = client.post(
        team.url("subscription/plan-change"),
        {"plan_code": tiny.code, "state_token": shown["state_token"]},
        format="json",
    )

    assert shown["allowed"] is False and shown["documents"] == []
    assert shown["refusal"]["code"] == "plan_change_refused"
    assert "at most 2 members and you have 4. Remove 2 first" in shown["refusal"]["message"]
    assert response.status_code == 409
    assert response.json() == {
        "code": "plan_change_refused",
        "message": shown["refusal"]["message"],
        "field": None,
    }
    assert team.state() == before


def test_an_unknown_or_private_plan_is_invalid_input(team):
    private = PlanFactory(is_public=False)
    for code in ("no-such-plan", private.code):
        response = team.client().post(
            team.url("subscription/plan-change/preview"), {"plan_code": code}, format="json"
        )
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid" and list(body["fields"]) == ["plan_code"]


def test_confirming_needs_the_state_token_of_a_preview(team):
    bigger = PlanFactory(base_price_minor=5000)
    response = team.client().post(
        team.url("subscription/plan-change"), {"plan_code": bigger.code}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"state_token": ["This field is required."]}


# Seats -----------------------------------------------------------------------------------


def test_seat_preview_then_buy_charges_exactly_the_previewed_amount(team):
    client = team.client()
    before = team.state()

    shown = preview(client, team.url("seats/preview"), {"count": 4})

    assert team.state() == before
    (document,) = shown["documents"]
    (line,) = document["lines"]
    # 4 seats × 10.00 × 15/31 = 19.3548... -> 19.35; VAT 25 % of 19.35 = 4.8375 -> 4.84.
    assert (line["quantity"], line["unit_price"], line["fraction"], line["amount"]) == (
        4,
        "10.00",
        "15/31",
        "19.35",
    )
    assert (document["subtotal"], document["tax"], document["total"], document["amount_due"]) == (
        "19.35",
        "4.84",
        "24.19",
        "24.19",
    )

    response = client.post(
        team.url("seats/"), {"count": 4, "state_token": shown["state_token"]}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["subscription"]["seats"]["seats"] == 10
    (issued,) = body["invoices"]
    assert (issued["reason"], issued["subtotal"], issued["amount_due"]) == ("seat_change", "19.35", "24.19")
    invoice = Invoice.objects.get(organization=team.organization, reason="seat_change")
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.amount_due_minor) == (1935, 484, 2419)


def test_confirming_a_stale_seat_preview_answers_409_preview_stale_and_changes_nothing(team):
    owner = team.client()
    stale = preview(owner, team.url("seats/preview"), {"count": 2})
    # Meanwhile someone else previews and buys one seat.
    fresh = preview(owner, team.url("seats/preview"), {"count": 1})
    assert fresh["state_token"] == stale["state_token"], "nothing changed between the two previews"
    bought = owner.post(team.url("seats/"), {"count": 1, "state_token": fresh["state_token"]}, format="json")
    assert bought.status_code == 200
    before = team.state()

    response = owner.post(
        team.url("seats/"), {"count": 2, "state_token": stale["state_token"]}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "preview_stale"
    assert team.state() == before
    assert seats_total(subscription=team.subscription) == 7


def test_a_seat_purchase_the_rules_refuse_is_a_409_with_the_code(team):
    shown = preview(team.client(), team.url("seats/preview"), {"count": 100})
    assert shown["refusal"]["code"] == "max_seats_exceeded"
    response = team.client().post(
        team.url("seats/"), {"count": 100, "state_token": shown["state_token"]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "max_seats_exceeded"


@pytest.mark.parametrize("body", [{"count": 0}, {"count": "many"}, {"count": 1, "interval": "fortnight"}])
def test_invalid_seat_input_is_400_with_the_fields(team, body):
    response = team.client().post(team.url("seats/preview"), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# Members ---------------------------------------------------------------------------------


def test_a_members_billing_interval_changes_at_their_next_renewal():
    """Per-member intervals (seed 004): Bo pays monthly from 10 March; PATCH moves him to yearly
    from his next renewal (1 April). The resource shows the seat, its renewal and the change."""
    team = Team(seats=3, interval="year", seat_invoicing="immediate")
    for interval, price in {"year": 12000, "month": 1200}.items():
        PlanSeatPrice.objects.create(plan=team.plan, interval=interval, unit_price_minor=price)
    (bo,) = seat_services.members_add(
        organization=team.organization,
        users=[UserFactory()],
        role=Role.MEMBER,
        on=dt.date(2026, 3, 10),
        at=at(dt.date(2026, 3, 10)),
        seat_interval="month",
    )
    url = team.url(f"members/{bo.pk}/")
    documents = team.state()[:2]

    response = team.client(Role.ADMIN).patch(url, {"seat_interval": "year"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["seat_interval"] == "month" and body["seat_renews_on"] == "2026-04-01"
    assert body["seat_interval_change"] == {"interval": "year", "effective_on": "2026-04-01"}
    assert team.client(Role.MEMBER).get(url).json() == body
    assert team.state()[:2] == documents  # nothing invoiced or credited now
    withdrawn = team.client().patch(url, {"seat_interval": "month"}, format="json").json()
    assert withdrawn["seat_interval_change"] is None

    included = team.members[Role.FINANCE]  # on an included seat: no interval to change
    included_url = team.url(f"members/{included.pk}/")
    refused = team.client().patch(included_url, {"seat_interval": "year"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "interval_change_refused"
    not_offered = team.client().patch(url, {"seat_interval": "week"}, format="json")
    assert not_offered.status_code == 400 and not_offered.json()["code"] == "invalid_interval"
    assert not SeatIntervalChange.objects.filter(status="scheduled").exists()


def test_members_lists_the_active_members_owners_first(team):
    response = team.client(Role.MEMBER).get(team.url("members/"))
    assert response.status_code == 200
    rows = response.json()
    assert [row["role"] for row in rows][0] == "owner"
    assert {row["id"] for row in rows} == {m.pk for m in team.members.values()}
    finance = team.members[Role.FINANCE]
    assert {
        "id": finance.pk,
        "user_id": finance.user_id,
        "email": finance.user.email,
        "name": "",
        "role": "finance",
        "seat_interval": "",
        "seat_renews_on": "2026-04-01",  # an included seat renews with the plan
        "seat_interval_change": None,
        "joined_on": finance.joined_on.isoformat(),
    } in rows


def test_an_admin_invites_by_email_and_the_link_works(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = team.client(Role.ADMIN).post(
            team.url("members/"), {"email": "New.Person@Example.com", "role": "admin"}, format="json"
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    invitation = Invitation.objects.get(organization=team.organization)
    assert (body["id"], body["email"], body["role"], body["status"]) == (
        invitation.pk,
        "new.person@example.com",
        "admin",  # an admin gives admin or member; finance only an owner (issue 19)
        "pending",
    )
    assert [m.to for m in mail.outbox] == [["new.person@example.com"]]
    # The link starts with the site's address (issue 22), not the API request's host.
    link = re.search(re.escape(settings.SITE_URL.rstrip("/")) + r"/invitations/(\S+)/", mail.outbox[0].body)
    assert org_services.invitation_get_valid(token=link.group(1), at=NOW) == invitation
    # The link goes to the invited address alone, never to the inviter (issue 19 review).
    assert "accept_url" not in body and link.group(1) not in response.content.decode()


def test_inviting_a_member_again_is_a_409_and_an_admin_cannot_invite_an_owner(team):
    admin = team.client(Role.ADMIN)
    member_email = team.members[Role.MEMBER].user.email
    again = admin.post(team.url("members/"), {"email": member_email}, format="json")
    owner = admin.post(team.url("members/"), {"email": "boss@example.com", "role": "owner"}, format="json")
    assert (again.status_code, again.json()["code"], again.json()["field"]) == (
        409,
        "already_member",
        "email",
    )
    assert (owner.status_code, owner.json()["code"]) == (409, "owner_required")
    assert not Invitation.objects.filter(organization=team.organization).exists()


def test_removing_a_member(team):
    leaving = team.members[Role.MEMBER]
    response = team.client(Role.ADMIN).delete(team.url(f"members/{leaving.pk}/"))
    assert response.status_code == 204
    leaving.refresh_from_db()
    assert leaving.removed_at == NOW


def test_removing_the_last_owner_is_refused(team):
    owner = team.members[Role.OWNER]
    before = team.state()
    response = team.client().delete(team.url(f"members/{owner.pk}/"))
    assert (response.status_code, response.json()["code"]) == (409, "last_owner")
    assert team.state() == before


def test_reassigning_a_seat_invites_the_person_who_takes_it_over_on_accepting(team):
    leaving = team.members[Role.MEMBER]
    newcomer = UserFactory(username="newcomer@example.com")
    response = team.client(Role.ADMIN).post(
        team.url(f"members/{leaving.pk}/reassign"), {"email": "Newcomer@example.com"}, format="json"
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["email"], body["role"], body["status"], body["takes_seat_of"]) == (
        "newcomer@example.com",
        "member",
        "pending",
        leaving.pk,
    )
    leaving.refresh_from_db()
    assert leaving.removed_at is None, "nobody joins without accepting"
    assert not Membership.objects.filter(organization=team.organization, user=newcomer).exists()

    seat_services.invitation_accept(
        invitation=Invitation.objects.get(pk=body["id"]), user=newcomer, on=MAR_17, at=NOW
    )
    leaving.refresh_from_db()
    assert leaving.removed_at == NOW
    assert seats_total(subscription=team.subscription) == 6
    assert Invoice.objects.filter(organization=team.organization).count() == 1, "no charge"


def test_reassigning_answers_the_same_whether_the_email_has_an_account_or_not(team):
    """The answer told an admin whether an e-mail had an account anywhere."""
    UserFactory(username="has-account@example.com")
    answers = []
    for email, leaving in (
        ("has-account@example.com", team.members[Role.MEMBER]),
        ("nobody@example.com", team.members[Role.FINANCE]),
    ):
        response = team.client(Role.OWNER).post(
            team.url(f"members/{leaving.pk}/reassign"), {"email": email}, format="json"
        )
        body = response.json()
        answers.append((response.status_code, sorted(body), body["status"]))
    assert answers[0] == answers[1] == (202, sorted(answers[0][1]), "pending")


# Invoices, credit notes, balance ---------------------------------------------------------


def test_invoices_are_listed_newest_first_and_paginated(team):
    for _ in range(2):
        seat_services.seat_purchase(organization=team.organization, count=1, on=MAR_17, at=NOW)
    client = team.client(Role.FINANCE)

    first = client.get(team.url("invoices/"), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert first["count"] == 3 and second["next"] is None
    numbers = [row["number"] for row in first["results"] + second["results"]]
    expected = list(Invoice.objects.filter(organization=team.organization).order_by("-sequence"))
    assert numbers == [invoice.number for invoice in expected]
    opening = second["results"][0]
    assert (opening["reason"], opening["subtotal"], opening["tax"], opening["total"]) == (
        "subscription_create",
        "50.00",
        "12.50",
        "62.50",
    )
    assert (opening["period_start"], opening["period_end"], opening["status"]) == (
        "2026-03-01",
        "2026-04-01",
        "open",
    )


def test_an_invoice_with_its_lines(team):
    invoice = Invoice.objects.get(organization=team.organization)
    response = team.client(Role.FINANCE).get(team.url(f"invoices/{invoice.pk}/"))
    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["total"], body["tax_rate"], body["customer_country"]) == (
        invoice.number,
        "62.50",
        "25",
        "DK",
    )
    assert [
        (line["quantity"], line["unit_price"], line["fraction"], line["amount"]) for line in body["lines"]
    ] == [
        (1, "20.00", "1", "20.00"),
        (3, "10.00", "1", "30.00"),
    ]
    assert body["credit_notes"] == []


def test_credit_notes_list_and_detail_and_the_credit_balance(team):
    team.seats_needed()
    note = downgrade_with_credit(team)
    client = team.client(Role.FINANCE)

    listed = client.get(team.url("credit-notes/")).json()
    detail = client.get(team.url(f"credit-notes/{note.pk}/")).json()
    balance = client.get(team.url("credit-balance/")).json()
    invoice = client.get(team.url(f"invoices/{note.invoice_id}/")).json()

    assert listed["count"] == 1 and listed["results"][0]["number"] == note.number
    assert (detail["invoice_id"], detail["invoice_number"], detail["subtotal"]) == (
        note.invoice_id,
        note.invoice.number,
        "16.94",
    )
    assert len(detail["lines"]) == 4
    assert [row["id"] for row in invoice["credit_notes"]] == [note.pk]
    assert balance == {"currency": "EUR", "balance": detail["total"], "balance_minor": note.total_minor}
    assert client.get(team.url("credit-balance/"), {"currency": "DKK"}).json()["balance"] == "0.00"
    assert client.get(team.url("credit-balance/"), {"currency": "XYZ"}).status_code == 400


# Roles and tenancy -----------------------------------------------------------------------

EVERYONE = {Role.OWNER, Role.ADMIN, Role.FINANCE, Role.MEMBER}
# (url name, method, path under the organization, roles allowed)
ENDPOINTS = [
    ("api_plans", "get", "plans/", EVERYONE),
    ("api_subscription", "get", "subscription/", EVERYONE),
    ("api_plan_change_preview", "post", "subscription/plan-change/preview", {Role.OWNER}),
    ("api_plan_change", "post", "subscription/plan-change", {Role.OWNER}),
    ("api_seats_preview", "post", "seats/preview", {Role.OWNER}),
    ("api_seats_purchase", "post", "seats/", {Role.OWNER}),
    ("api_units_preview", "post", "units/preview", {Role.OWNER}),
    ("api_units", "get", "units/", {Role.OWNER}),
    ("api_units", "post", "units/", {Role.OWNER}),
    ("api_unit", "get", "units/{unit}/", {Role.OWNER}),
    ("api_unit", "delete", "units/{unit}/", {Role.OWNER}),
    ("api_members", "get", "members/", EVERYONE),
    ("api_members", "post", "members/", {Role.OWNER, Role.ADMIN}),
    ("api_member", "get", "members/{membership}/", EVERYONE),
    ("api_member", "patch", "members/{membership}/", {Role.OWNER, Role.ADMIN}),
    ("api_member", "delete", "members/{membership}/", {Role.OWNER, Role.ADMIN}),
    ("api_member_reassign", "post", "members/{membership}/reassign", {Role.OWNER, Role.ADMIN}),
    ("api_invoices", "get", "invoices/", {Role.OWNER, Role.FINANCE}),
    ("api_invoice", "get", "invoices/{invoice}/", {Role.OWNER, Role.FINANCE}),
    ("api_credit_notes", "get", "credit-notes/", {Role.OWNER, Role.FINANCE}),
    ("api_credit_note", "get", "credit-notes/{credit_note}/", {Role.OWNER, Role.FINANCE}),
    ("api_credit_balance", "get", "credit-balance/", {Role.OWNER, Role.FINANCE}),
    ("api_billing_details", "get", "billing-details/", {Role.OWNER, Role.FINANCE}),
    ("api_billing_details", "patch", "billing-details/", {Role.OWNER, Role.FINANCE}),
    ("api_webhook_endpoints", "get", "webhook-endpoints/", {Role.OWNER, Role.ADMIN}),
    ("api_webhook_endpoints", "post", "webhook-endpoints/", {Role.OWNER, Role.ADMIN}),
    ("api_webhook_endpoint", "get", "webhook-endpoints/{webhook_endpoint}/", {Role.OWNER, Role.ADMIN}),
    ("api_webhook_endpoint", "patch", "webhook-endpoints/{webhook_endpoint}/", {Role.OWNER, Role.ADMIN}),
    (
        "api_webhook_endpoint_roll_secret",
        "post",
        "webhook-endpoints/{webhook_endpoint}/roll-secret",
        {Role.OWNER, Role.ADMIN},
    ),
    ("api_webhook_deliveries", "get", "webhook-deliveries/", {Role.OWNER, Role.ADMIN}),
    (
        "api_webhook_delivery_replay",
        "post",
        "webhook-deliveries/{webhook_delivery}/replay",
        {Role.OWNER, Role.ADMIN},
    ),
    ("api_keys", "get", "api-keys/", {Role.OWNER}),
    ("api_keys", "post", "api-keys/", {Role.OWNER}),
    ("api_key", "delete", "api-keys/{api_key}/", {Role.OWNER}),
]
FORBIDDEN = [
    pytest.param(method, tail, role, id=f"{method}-{tail}-{role}")
    for _name, method, tail, allowed in ENDPOINTS
    for role in sorted(EVERYONE - allowed)
]
OBJECT_ENDPOINTS = [(method, tail) for _name, method, tail, _allowed in ENDPOINTS if "{" in tail]


def test_the_tables_cover_every_api_url():
    assert {pattern.name for pattern in organization_patterns} == {name for name, *_ in ENDPOINTS}


def _webhook_delivery(team: Team) -> WebhookDelivery:
    """An endpoint of the team's and a failed delivery to it (nothing is sent: no request here
    is allowed)."""
    delivery = WebhookDelivery.objects.filter(organization=team.organization).first()
    if delivery is None:
        endpoint, _secret = webhook_services.endpoint_create(
            organization=team.organization,
            url="https://hooks.example.com/seatbill",
            events=["seat.added"],
            at=NOW,
        )
        event = WebhookEvent.objects.create(
            organization=team.organization, type="seat.added", key="test", payload={}, created_at=NOW
        )
        delivery = WebhookDelivery.objects.create(
            organization=team.organization, endpoint=endpoint, event=event, status="failed", created_at=NOW
        )
    return delivery


def _objects(team: Team) -> dict:
    delivery = _webhook_delivery(team)
    return {
        "unit": team.unit().pk,
        "membership": team.members[Role.MEMBER].pk,
        "invoice": Invoice.objects.filter(organization=team.organization).first().pk,
        "credit_note": CreditNote.objects.get(organization=team.organization).pk,
        "webhook_endpoint": delivery.endpoint_id,
        "webhook_delivery": delivery.pk,
        "api_key": _api_key(team).pk,
    }


def _api_key(team: Team):
    key = Credential.objects.filter(organization=team.organization, kind=Credential.Kind.API_KEY).first()
    if key is None:
        key, _secret = credential_create(
            organization=team.organization,
            kind=Credential.Kind.API_KEY,
            name="Backend",
            at=NOW,
            scopes=["usage:write"],
        )
    return key


def _valid_body(team: Team, method: str, tail: str) -> dict:
    """A well-formed body, so that only the authorization can refuse the request."""
    bigger = PlanFactory(base_price_minor=9000)
    return {
        "subscription/plan-change/preview": {"plan_code": bigger.code},
        "subscription/plan-change": {"plan_code": bigger.code, "state_token": "0" * 32},
        "seats/preview": {"count": 1},
        "seats/": {"count": 1, "state_token": "0" * 32},
        "units/preview": {"unit": "phone_numbers", "count": 1},
        "units/": {"unit": "phone_numbers", "count": 1} if method == "post" else {},
        "members/": {"email": "someone@example.com", "role": "member"},
        "members/{membership}/reassign": {"email": UserFactory().email},
        "members/{membership}/": {"seat_interval": "month"} if method == "patch" else {},
        "billing-details/": {"vat_id": "DK13585628", "country": "DK"} if method == "patch" else {},
        "webhook-endpoints/": {"url": "https://hooks.example.com/other", "events": ["invoice.issued"]},
        "webhook-endpoints/{webhook_endpoint}/": {"active": False} if method == "patch" else {},
        "webhook-endpoints/{webhook_endpoint}/roll-secret": {"grace_hours": 0},
        "api-keys/": {"name": "Backend", "scopes": ["usage:write"]} if method == "post" else {},
    }.get(tail, {})


def _request(client, method, url, body):
    return getattr(client, method)(url, body, format="json") if method != "get" else client.get(url)


@pytest.mark.parametrize("method,tail,role", FORBIDDEN)
def test_a_role_without_the_capability_gets_403_and_changes_nothing(team, method, tail, role):
    downgrade_with_credit(team)
    url = team.url(tail.format(**_objects(team)))
    body = _valid_body(team, method, tail)
    before = team.state()

    response = _request(team.client(role), method, url, body)

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert team.state() == before


@pytest.fixture
def two_teams():
    """The victim team (with a credit note) and a stranger: the owner of another team."""
    victim, other = Team(), Team()
    downgrade_with_credit(victim)
    downgrade_with_credit(other)
    return victim, other


@pytest.mark.parametrize("method,tail", [(method, tail) for _name, method, tail, _allowed in ENDPOINTS])
def test_a_member_of_another_organization_gets_404_on_every_endpoint(two_teams, method, tail):
    victim, other = two_teams
    url = victim.url(tail.format(**_objects(victim)))
    body = _valid_body(victim, method, tail)
    before = victim.state()

    response = _request(other.client(Role.OWNER), method, url, body)

    assert response.status_code == 404, response.content
    assert response.json() == {"code": "not_found", "message": "No such organization.", "field": None}
    assert victim.state() == before


@pytest.mark.parametrize("method,tail", OBJECT_ENDPOINTS)
def test_another_organizations_object_ids_are_404_under_ones_own_organization(two_teams, method, tail):
    victim, other = two_teams
    url = other.url(tail.format(**_objects(victim)))
    body = _valid_body(other, method, tail)
    before = (victim.state(), other.state())

    response = _request(other.client(Role.OWNER), method, url, body)

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert (victim.state(), other.state()) == before


def test_a_removed_member_is_a_stranger(team):
    member = team.members[Role.MEMBER]
    org_services.membership_end(membership=member, at=NOW)
    assert team.client(Role.MEMBER).get(team.url("plans/")).status_code == 404


def test_anonymous_requests_are_refused(team):
    """401 with `WWW-Authenticate: Bearer`: every endpoint takes the organization's API key."""
    response = APIClient().get(team.url("plans/"))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_session_writes_need_the_csrf_token(team):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(team.members[Role.OWNER].user)
    response = client.post(team.url("seats/preview"), {"count": 1}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


# Documentation ---------------------------------------------------------------------------


def test_schema_and_docs_are_served_to_a_logged_in_user(team):
    client = team.client(Role.MEMBER)
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")
    assert schema.status_code == 200 and docs.status_code == 200
    text = schema.content.decode()
    for tail in (
        "plans",
        "subscription/plan-change/preview",
        "members/{membership_id}/reassign",
        "credit-balance",
    ):
        assert f"/api/v1/organizations/{{organization_id}}/{tail}:" in text
    # Published without a trailing slash (Redocly's recommended rules); no path has one.
    assert "/:\n" not in text


def test_the_first_versions_slashed_paths_answer_as_the_published_ones(team):
    """`…/invoices/` and `…/members/{id}/` were published with a slash: they stay, the same."""
    client = team.client(Role.OWNER)
    base = f"/api/v1/organizations/{team.organization.pk}"
    member = team.members[Role.MEMBER]
    for published in ("/plans", "/invoices", "/members", f"/members/{member.pk}", "/credit-balance"):
        answer, alias = client.get(base + published), client.get(base + published + "/")
        assert answer.status_code == alias.status_code == 200, published
        assert answer.json() == alias.json()
    assert reverse("api_invoices", args=[team.organization.pk]) == base + "/invoices"


def test_schema_generation_has_no_warnings_or_errors(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "schema.yaml"),
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
