"""The dashboard pages through Django's test client: seed 000 element by element, who sees
what, the HTMX cards and dialog steps, and the preview-then-confirm flows with their tokens."""

import json
import re

import pytest
from django.contrib.auth import get_user_model

from billing.models import Subscription
from billing.selectors import seat_summary
from invoices.models import CreditNote, Invoice
from seats.models import SeatWaiter

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, email):
    client.force_login(get_user_model().objects.get(username=email))
    return client


def text(response) -> str:
    """The response's HTML with tags dropped and whitespace collapsed, to assert on what people read."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_overview_shows_every_element_of_seed_000(client, nordlys):
    response = login(client, "owner@nordlys.example").get("/o/nordlys/")
    assert response.status_code == 200
    page = text(response)
    html = response.content.decode()
    # Header: title, a one-line description, a link to the docs; the three actions.
    assert '<h1 class="page-title">Organization</h1>' in html
    assert "Read the docs" in page
    for action in ("Change plan", "Organization settings", "Manage billing"):
        assert action in page
    # Usage card: plan, reset day, overall badge (the highest meter: seats 4/10), statistics link.
    assert "Usage · Ecommerce Enterprise" in page
    assert "Resets on the 1st" in page
    assert "40% used" in page
    assert 'href="/o/nordlys/statistics/"' in html
    # Four meters, used / limit in compact numbers, and percent.
    assert "AI tokens this billing period 150.0K / 200.0M · 0%" in page
    assert "Documents / products indexed 1.2K / 100.0K · 1%" in page
    assert "Agents 1 / 5 · 20%" in page
    assert "Seats 4 / 10 · 40%" in page
    assert html.count('role="progressbar"') == 4
    # Current plan card: name and monthly price excluding tax.
    assert "€1,890.00/month excl. VAT" in page
    assert "4 of 10 seats used" in page
    # Recent invoices: number, date, amount, view in a new tab (PDFs render after commit).
    invoices = list(Invoice.objects.filter(organization=nordlys).order_by("-sequence"))
    assert len(invoices) == 3
    for invoice in invoices:
        assert invoice.number in page
        assert f'href="/o/nordlys/invoices/{invoice.number}/" target="_blank" rel="noopener"' in html
    assert page.count("€2,362.50") == 3


@pytest.mark.parametrize(
    "email, sees, hides",
    [
        (
            "owner@nordlys.example",
            ["Change plan", "Manage billing", "Organization settings", "€1,890.00/month", "Recent invoices"],
            [],
        ),
        (
            "admin@nordlys.example",
            ["Usage · Ecommerce Enterprise", "4 of 10 seats used"],
            ["Change plan", "Manage billing", "Organization settings", "€1,890.00", "Recent invoices"],
        ),
        (
            "finance@nordlys.example",
            # Organization settings is in finance's Settings menu now (the tax identity, issue 19).
            ["€1,890.00/month", "Recent invoices", "€2,362.50", "Organization settings"],
            ["Change plan", "Manage billing"],
        ),
        (
            "member@nordlys.example",
            ["Usage · Ecommerce Enterprise", "Ecommerce Enterprise"],
            ["Change plan", "Manage billing", "Organization settings", "€1,890.00", "Recent invoices"],
        ),
    ],
)
def test_each_role_sees_exactly_its_part(client, nordlys, email, sees, hides):
    page = text(login(client, email).get("/o/nordlys/"))
    for expected in sees:
        assert expected in page
    for hidden in hides:
        assert hidden not in page


@pytest.mark.parametrize(
    "email, allowed",
    [
        ("owner@nordlys.example", True),
        ("admin@nordlys.example", False),
        ("finance@nordlys.example", False),
        ("member@nordlys.example", False),
    ],
)
def test_only_owners_reach_plan_seats_and_billing(client, nordlys, email, allowed):
    login(client, email)
    for url in ("/o/nordlys/plan/", "/o/nordlys/seats/", "/o/nordlys/billing/", "/o/nordlys/seats/edit/"):
        assert client.get(url).status_code == (200 if allowed else 403), url
    assert client.get("/o/nordlys/statistics/").status_code == 200


def test_overview_in_danish(client, nordlys):
    page = text(login(client, "finance@nordlys.example").get("/o/nordlys/", HTTP_ACCEPT_LANGUAGE="da"))
    assert "2.362,50 EUR" in page
    assert "1.890,00 EUR" in page
    assert "150,0 t / 200,0 mio." in page
    # The dashboard's sentences are in the catalogue, the ordinal in the sentence's language.
    assert "Nulstilles den 1." in page and "Resets on" not in page
    assert "2.362,50 EUR" in page and "€" not in page


def test_each_card_refreshes_on_its_own(client, nordlys):
    login(client, "owner@nordlys.example")
    for card, element in (("usage", "usage-card"), ("plan", "plan-card"), ("invoices", "invoices-card")):
        response = client.get(f"/o/nordlys/?card={card}", **HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith(f'<section class="card" id="{element}"')
        assert "<html" not in html
    # Without HTMX the same link is the whole page (it works without JavaScript).
    assert "<html" in client.get("/o/nordlys/?card=usage").content.decode()


def test_invoices_card_is_not_served_to_members(client, nordlys):
    assert login(client, "member@nordlys.example").get("/o/nordlys/?card=invoices", **HTMX).status_code == 404


def test_full_seats_meter_is_red(client, nordlys):
    from organizations.models import Role
    from seats import services as seat_services
    from tests.dashboard.support import at_nine, user

    sub = Subscription.objects.get(organization=nordlys)
    seat_services.members_add(
        organization=nordlys,
        users=[user(f"extra{n}@nordlys.example") for n in range(6)],
        role=Role.MEMBER,
        on=sub.current_period_start,
        at=at_nine(sub.current_period_start),
    )
    html = login(client, "owner@nordlys.example").get("/o/nordlys/?card=usage", **HTMX).content.decode()
    assert 'class="meter meter-red"' in html
    assert "100% used" in html and "badge-red" in html


# ---------------------------------------------------------------------------
# Change plan


def test_change_plan_dialog_recommends_from_usage(client, nordlys):
    login(client, "owner@nordlys.example")
    response = client.get("/o/nordlys/plan/", **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<dialog class="modal" id="plan-dialog"')
    page = text(response)
    # The current plan, marked; then the cheapest plans covering the usage with headroom.
    assert re.search(r"Ecommerce Enterprise Current plan", page)
    assert "Business Recommended" in page and "Scale Recommended" in page
    # Free team's 1,000 documents are below the 1,200 indexed: not suggested.
    assert "Free team" not in page
    assert "See all plans (1 more)" in page

    everything = text(
        client.get("/o/nordlys/plan/?all=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plan-modal-body")
    )
    assert "Free team Below your usage" in everything
    assert "Show recommended plans" in everything


def test_change_plan_without_javascript_is_a_page(client, nordlys):
    response = login(client, "owner@nordlys.example").get("/o/nordlys/plan/")
    assert "<html" in response.content.decode()
    assert 'href="/o/nordlys/plan/business-monthly/"' in response.content.decode()


def test_preview_then_confirm_changes_plan(client, nordlys):
    login(client, "owner@nordlys.example")
    response = client.get(
        "/o/nordlys/plan/business-monthly/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plan-modal-body"
    )
    page = text(response)
    assert "From Ecommerce Enterprise to Business" in page
    assert "Unused time: Ecommerce Enterprise" in page and "Remaining time: Business" in page
    assert "is credited to your balance" in page
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', response.content.decode())[1]
    notes_before = CreditNote.objects.filter(organization=nordlys).count()

    confirm = client.post("/o/nordlys/plan/business-monthly/confirm/", {"state_token": token}, **HTMX)
    assert confirm.status_code == 200
    assert confirm["HX-Redirect"] == "/o/nordlys/"
    assert Subscription.objects.get(organization=nordlys).plan.code == "business-monthly"
    assert CreditNote.objects.filter(organization=nordlys).count() == notes_before + 1
    assert "You are now on Business." in text(client.get("/o/nordlys/"))


def test_confirm_with_a_stale_preview_is_refused_and_shows_the_new_amounts(client, nordlys):
    login(client, "owner@nordlys.example")
    response = client.post(
        "/o/nordlys/plan/business-monthly/confirm/",
        {"state_token": "0" * 32},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="plan-modal-body",
    )
    page = text(response)
    assert "Something changed since you reviewed this" in page
    assert "Confirm change to Business" in page  # a fresh preview to confirm instead
    assert Subscription.objects.get(organization=nordlys).plan.code == "ecommerce-enterprise"


def test_refused_plan_change_shows_its_reason(client, nordlys):
    page = text(login(client, "owner@nordlys.example").get("/o/nordlys/plan/free-team/"))
    assert "This change is not possible." in page
    assert "Free team allows at most 3 members and you have 4" in page
    assert "Confirm change" not in page


def test_unknown_or_private_plan_is_404(client, nordlys):
    from billing.models import Plan

    Plan.objects.filter(code="scale-monthly").update(is_public=False)
    login(client, "owner@nordlys.example")
    assert client.get("/o/nordlys/plan/scale-monthly/").status_code == 404
    assert client.get("/o/nordlys/plan/nope/").status_code == 404


# ---------------------------------------------------------------------------
# Seats (seeds 001 and 002)


def units(response) -> dict:
    html = response.content.decode()
    return {name: int(value) for name, value in re.findall(r'data-column="(\w+)">(\d+)<', html)}


def test_units_table_created_included_additional(client, nordlys):
    response = login(client, "owner@nordlys.example").get("/o/nordlys/seats/")
    assert units(response) == {"created": 4, "included": 10, "additional": 0, "total": 10, "free": 6}
    live = client.get("/o/nordlys/seats/?card=units", **HTMX).content.decode()
    assert 'hx-trigger="every 30s"' in live and "<html" not in live


def test_buy_seats_through_the_preview(client, nordlys):
    login(client, "owner@nordlys.example")
    edit = client.get("/o/nordlys/seats/edit/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="seat-editor")
    assert 'name="seats"' in edit.content.decode() and "<html" not in edit.content.decode()
    preview = client.get(
        "/o/nordlys/seats/preview/?seats=12", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="seat-editor"
    )
    page = text(preview)
    assert "From 10 to 12 seats (2 more)." in page
    assert "Invoice issued now" in page and "You pay" in page
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]
    invoices_before = Invoice.objects.filter(organization=nordlys).count()

    done = client.post(
        "/o/nordlys/seats/purchase/", {"count": 2, "interval": "", "state_token": token}, **HTMX
    )
    assert done["HX-Redirect"] == "/o/nordlys/seats/"
    assert seat_summary(organization=nordlys).seats == 12
    assert Invoice.objects.filter(organization=nordlys).count() == invoices_before + 1
    after = client.get("/o/nordlys/seats/")
    assert units(after)["additional"] == 2
    assert "2 seats added." in text(after)


def test_stale_seat_preview_says_so_and_buys_nothing(client, nordlys):
    login(client, "owner@nordlys.example")
    preview = client.get("/o/nordlys/seats/preview/?seats=11")
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]
    # Meanwhile someone else buys a seat: the reviewed amounts no longer hold.
    other = client.get("/o/nordlys/seats/preview/?seats=11")
    other_token = re.search(r'name="state_token" value="([0-9a-f]+)"', other.content.decode())[1]
    client.post("/o/nordlys/seats/purchase/", {"count": 1, "state_token": other_token})
    assert seat_summary(organization=nordlys).seats == 11

    stale = client.post("/o/nordlys/seats/purchase/", {"count": 1, "state_token": token})
    page = text(stale)
    assert stale.status_code == 200
    assert "Something changed since you reviewed this" in page
    assert "From 11 to 12 seats (1 more)." in page  # the new preview to review instead
    assert seat_summary(organization=nordlys).seats == 11


def test_seats_can_only_be_increased_here(client, nordlys):
    page = text(login(client, "owner@nordlys.example").get("/o/nordlys/seats/preview/?seats=10"))
    assert "Enter more than the 10 seats you have" in page


# ---------------------------------------------------------------------------
# Manage billing and statistics


@pytest.mark.parametrize(
    "stripe_key, says", [("", "pay each invoice by bank transfer"), ("sk_test_x", "default card")]
)
def test_manage_billing_leads_to_the_payments_page(client, nordlys, settings, stripe_key, says):
    settings.STRIPE_SECRET_KEY = stripe_key
    response = login(client, "owner@nordlys.example").get("/o/nordlys/billing/")
    page, html = text(response), response.content.decode()
    assert says in page
    assert 'id="payments-link" href="/o/nordlys/billing/payments/"' in html
    assert "Nordlys Commerce ApS" in page and "DK31415926" in page
    assert "€1,890.00/month excl. VAT" in page
    assert client.get("/o/nordlys/billing/payments/").status_code == 200


def test_the_overviews_manage_billing_buttons_open_the_payments_page(client, nordlys):
    html = login(client, "owner@nordlys.example").get("/o/nordlys/").content.decode()
    buttons = re.findall(r'<a class="btn" href="([^"]+)">Manage billing</a>', html)
    assert buttons == ["/o/nordlys/billing/payments/"] * 2  # page actions and the plan card


def test_owners_see_the_past_due_banner_on_every_page(client, nordlys):
    """payments' banner comes through its context processor, on every page of the
    organization, for owners only; pages without it (other roles) pay no query for it."""
    Subscription.objects.filter(organization=nordlys).update(status=Subscription.Status.PAST_DUE)
    login(client, "owner@nordlys.example")
    for url in ("/o/nordlys/", "/o/nordlys/members/", "/o/nordlys/invoices/", "/o/nordlys/statistics/"):
        html = client.get(url).content.decode()
        assert 'id="payment-banner"' in html and "A payment is overdue." in html, url
        assert '<a href="/o/nordlys/billing/payments/">Go to payments</a>' in html, url
    payments = client.get("/o/nordlys/billing/payments/").content.decode()
    assert payments.count('id="payment-banner"') == 1 and "Go to payments" not in payments
    for email in ("admin@nordlys.example", "finance@nordlys.example", "member@nordlys.example"):
        assert 'id="payment-banner"' not in login(client, email).get("/o/nordlys/").content.decode()


def test_no_banner_while_payments_are_in_order(client, nordlys):
    html = login(client, "owner@nordlys.example").get("/o/nordlys/").content.decode()
    assert 'id="payment-banner"' not in html


def test_the_seats_meter_links_to_the_waiting_list_when_people_wait(client, nordlys, frozen_clock):
    login(client, "owner@nordlys.example")
    assert 'id="seats-waiting"' not in client.get("/o/nordlys/").content.decode()
    at = frozen_clock.at
    for email in ("ann@sso.example", "bo@sso.example"):
        SeatWaiter.objects.create(
            organization=nordlys,
            email=email,
            source=SeatWaiter.Source.SSO,
            refusal_code="seat_unavailable",
            first_requested_at=at,
            last_requested_at=at,
        )
    response = client.get("/o/nordlys/")
    html = response.content.decode()
    assert re.search(
        r'id="seats-waiting"><a href="/o/nordlys/seats/waiting/">2 people are waiting for a seat</a>', html
    )
    card = client.get("/o/nordlys/?card=usage", **HTMX).content.decode()  # the card's refresh too
    assert "2 people are waiting for a seat" in card
    # Only owners see the waiting list, so only they get the link (and the count's query).
    member = login(client, "member@nordlys.example").get("/o/nordlys/").content.decode()
    assert 'id="seats-waiting"' not in member


def test_statistics_has_a_table_beside_each_chart(client, nordlys):
    response = login(client, "member@nordlys.example").get("/o/nordlys/statistics/")
    html = response.content.decode()
    page = text(response)
    assert html.count("<canvas") == 3 and html.count("<table") == 3
    assert "gpt-large 120,000" in page and "gpt-small 30,000" in page
    assert "chat €0.96" in page and "search €0.06" in page
    assert "Detailed statistics →" not in page  # the usage card does not link to its own page
    data = json.loads(re.search(r'id="statistics-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert set(data) == {"daily", "models", "actions"}
    assert sum(data["daily"]["values"]) == 150_000
    assert data["models"]["labels"] == ["gpt-large", "gpt-small"]


@pytest.mark.django_db(transaction=True)
def test_a_preview_sends_and_charges_nothing(client, nordlys, mailoutbox):
    """Outside a test transaction (as in production) a preview's rolled-back documents must not
    be rendered, e-mailed or charged when the request commits."""
    login(client, "owner@nordlys.example")
    mailoutbox.clear()
    invoices = Invoice.objects.filter(organization=nordlys).count()
    assert client.get("/o/nordlys/seats/preview/?seats=12").status_code == 200
    assert client.get("/o/nordlys/plan/business-monthly/").status_code == 200
    assert Invoice.objects.filter(organization=nordlys).count() == invoices
    assert CreditNote.objects.filter(organization=nordlys).count() == 0
    assert mailoutbox == []
