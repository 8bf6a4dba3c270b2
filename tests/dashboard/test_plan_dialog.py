"""Issue 23 items 2, 4 and 5 through the pages: the change-plan dialog recommends only plans
the organization can move to and says why not for the others with the way out; a move below
today's usage shows each meter over its new limit and needs the explicit "I accept"; the
app-store cap and the switch to web; what's next (the upcoming invoice). Roles and tenancy.

Nordlys (tests/dashboard/support.py): Ecommerce Enterprise, 4 members, 150K AI tokens, 1,200
documents and 1 agent used.
"""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from billing.models import Plan, PlanLimit, PlanSeatPrice, Subscription
from organizations.models import AuditLogEntry, Invitation
from tests.dashboard.support import build_organization

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SALES = "https://sales.example.com/contact"


def login(client, email):
    client.force_login(get_user_model().objects.get(username=email))
    return client


def text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _starter():
    """A cheap public plan whose documents limit (1,000) is below Nordlys's 1,200."""
    plan = Plan.objects.create(
        code="starter",
        name="Starter",
        interval="month",
        base_price_minor=9000,
        seat_price_minor=1000,
        included_seats=5,
        display_order=2,
        recommended_rank=2,
    )
    PlanLimit.objects.create(plan=plan, meter="ai_tokens", limit=10_000_000)
    PlanLimit.objects.create(plan=plan, meter="documents", limit=1_000)
    PlanLimit.objects.create(plan=plan, meter="agents", limit=5)
    return plan


@override_settings(SALES_URL=SALES)
def test_the_dialog_says_why_a_plan_is_not_possible_with_the_way_out(client, nordlys):
    # A plan with per-member intervals has no commitment; Nordlys's contract has one.
    flex = Plan.objects.create(code="flex", name="Flex", interval="month", display_order=9)
    PlanSeatPrice.objects.create(plan=flex, interval="month", unit_price_minor=1200)
    Subscription.objects.filter(organization=nordlys).update(committed_seats=2)
    client = login(client, "owner@nordlys.example")
    response = client.get("/o/nordlys/plan/?all=1")
    html, page = response.content.decode(), text(response)
    # Free team allows 3 members, Nordlys has 4: the reason and a link to remove one.
    free = re.search(r'id="plan-option-free-team".*?</li>', html, flags=re.S)[0]
    assert "Not possible now." in free and "at most 3 members and you have 4" in free
    assert 'href="/o/nordlys/members/"' in free and "Remove 1 member first" in free
    assert "Review change to Free team" not in page
    # The commitment: contact sales, as a real link.
    flex_option = re.search(r'id="plan-option-flex".*?</li>', html, flags=re.S)[0]
    assert "our sales team arranges this change" in flex_option
    assert f'href="{SALES}"' in flex_option and "Contact sales" in flex_option
    assert f'<a href="{SALES}" id="contact-sales">Contact sales</a>' in html


def test_the_dialog_recommends_only_plans_the_organization_can_move_to(client, nordlys):
    free = Plan.objects.get(code="free-team")
    free.limits.all().delete()  # unlimited: it covers the usage, only its seat cap refuses it
    free.max_seats = 3
    free.save(update_fields=["max_seats"])
    response = login(client, "owner@nordlys.example").get("/o/nordlys/plan/")
    html = response.content.decode()
    assert 'id="plan-option-business-monthly"' in html  # covers the usage, can move
    assert 'id="plan-option-free-team"' not in html  # cheaper, but 4 members > 3


def test_a_move_below_usage_shows_each_meter_and_needs_the_confirmation(client, nordlys):
    _starter()
    client = login(client, "owner@nordlys.example")
    preview = client.get("/o/nordlys/plan/starter/")
    html, page = preview.content.decode(), text(preview)
    assert 'id="plan-over-limits"' in html
    assert "Documents / products indexed 1,200 1,000" in page  # used now, new limit
    assert "AI tokens" not in re.search(r'id="plan-over-limits".*?</div>\s*</div>', html, flags=re.S)[0]
    assert 'name="accept_over_limits"' in html
    assert "You keep 5 seats on Starter" in page  # the 4 members need 4; Starter includes 5
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', html)[1]

    refused = client.post("/o/nordlys/plan/starter/confirm/", {"state_token": token})
    assert refused.status_code == 200
    assert "limits are below what you use today" in text(refused)
    assert Subscription.objects.get(organization=nordlys).plan.code == "ecommerce-enterprise"

    done = client.post("/o/nordlys/plan/starter/confirm/", {"state_token": token, "accept_over_limits": "1"})
    assert done.status_code == 302
    assert Subscription.objects.get(organization=nordlys).plan.code == "starter"


def test_a_move_within_usage_asks_no_confirmation(client, nordlys):
    html = login(client, "owner@nordlys.example").get("/o/nordlys/plan/business-monthly/").content.decode()
    assert 'id="plan-over-limits"' not in html and 'name="accept_over_limits"' not in html


# ---------------------------------------------------------------------------
# The app store (seed 004)


def _on_the_app_store(organization):
    Subscription.objects.filter(organization=organization).update(source=Subscription.Source.APP_STORE)


def test_an_app_store_team_sees_its_cap_and_the_switch(client, nordlys):
    _on_the_app_store(nordlys)
    client = login(client, "owner@nordlys.example")
    billing = text(client.get("/o/nordlys/billing/"))
    assert "Subscribed from the mobile app" in billing
    assert "at most 3 members (the team admin and 2 others)" in billing
    members = client.get("/o/nordlys/members/").content.decode()
    assert 'id="app-store-cap"' in members and 'href="/o/nordlys/billing/#app-store"' in members
    response = client.get("/o/nordlys/plan/?all=1").content.decode()
    business = re.search(r'id="plan-option-business-monthly".*?</li>', response, flags=re.S)[0]
    assert "switch to a web subscription first" in business
    assert 'href="/o/nordlys/billing/#app-store"' in business


def test_an_app_store_team_cannot_invite_a_fourth_person(client, nordlys):
    _on_the_app_store(nordlys)
    client = login(client, "owner@nordlys.example")
    response = client.post(
        reverse("member_invite", kwargs={"slug": "nordlys"}), {"email": "new@example.com", "role": "member"}
    )
    assert "To add more members, switch to a web subscription." in text(response)
    assert not Invitation.objects.filter(organization=nordlys, email="new@example.com").exists()


def test_only_an_owner_switches_to_web_and_it_is_audited(client, nordlys):
    _on_the_app_store(nordlys)
    url = "/o/nordlys/billing/switch-to-web/"
    for email in ("admin@nordlys.example", "finance@nordlys.example", "member@nordlys.example"):
        assert login(client, email).post(url).status_code == 403
    assert Subscription.objects.get(organization=nordlys).source == "app_store"
    response = login(client, "owner@nordlys.example").post(url, follow=True)
    assert "Your team now has a web subscription" in text(response)
    assert Subscription.objects.get(organization=nordlys).source == "web"
    assert (
        AuditLogEntry.objects.filter(organization=nordlys, action="subscription.switch_to_web").count() == 1
    )


# ---------------------------------------------------------------------------
# What's next


@pytest.mark.parametrize(
    "email, status",
    [
        ("owner@nordlys.example", 200),
        ("finance@nordlys.example", 200),
        ("admin@nordlys.example", 403),
        ("member@nordlys.example", 403),
    ],
)
def test_owners_and_finance_see_the_upcoming_invoice(client, nordlys, email, status):
    response = login(client, email).get("/o/nordlys/billing/upcoming/")
    assert response.status_code == status
    if status == 200:
        page = text(response)
        assert "Your subscription renews on 1 Jun 2026." in page
        assert "Renewal invoice of 1 Jun 2026" in page
        assert "Ecommerce Enterprise" in page and "€2,362.50" in page  # 1,890.00 + 25 % VAT
        assert "Next invoice: 1 Jun 2026, €2,362.50 to pay." in page


def test_the_billing_page_links_to_whats_next(client, nordlys):
    html = login(client, "owner@nordlys.example").get("/o/nordlys/billing/").content.decode()
    assert 'href="/o/nordlys/billing/upcoming/"' in html


def test_another_organizations_pages_are_404(client, nordlys):
    build_organization(slug="other", usage=False)
    client = login(client, "owner@nordlys.example")
    for url in (
        "/o/other/billing/upcoming/",
        "/o/other/plan/business-monthly/",
        "/o/other/members/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post("/o/other/billing/switch-to-web/").status_code == 404
    assert (
        client.post("/o/other/plan/business-monthly/confirm/", {"state_token": "x" * 32}).status_code == 404
    )


def test_the_new_pages_read_in_danish(client, nordlys):
    _starter()
    _on_the_app_store(nordlys)
    client = login(client, "owner@nordlys.example")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "da"
    upcoming = text(client.get("/o/nordlys/billing/upcoming/"))
    assert "Kommende faktura" in upcoming and "Fornyelsesfaktura af" in upcoming
    assert "Upcoming invoice" not in upcoming
    billing = text(client.get("/o/nordlys/billing/"))
    assert "Skift til et webabonnement" in billing and "Abonnement via mobilappen" in billing
    Subscription.objects.filter(organization=nordlys).update(source=Subscription.Source.WEB)
    preview = text(client.get("/o/nordlys/plan/starter/"))
    assert "Brugt nu" in preview and "Ny grænse" in preview
    assert "Jeg forstår, at mit forbrug vil være over disse grænser." in preview
