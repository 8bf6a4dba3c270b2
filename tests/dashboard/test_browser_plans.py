"""Seed 004 in a real browser (issue 23 items 2, 4 and 5): a new team starts free and upgrades
to Pro team through the change-plan dialog; a team subscribed from the mobile app store meets
its 3-member cap, switches to a web subscription and invites a fourth person; the owner reads
what's next. Debian's chromium through Playwright, as tests/dashboard/test_browser.py (whose
fixtures this reuses), every page checked with axe-core and saved as a screenshot.
"""

import os

import pytest

from billing.models import Meter, Plan, PlanLimit, PlanSeatPrice, Subscription
from billing.services import subscription_create
from core import clock
from organizations import services as org_services
from organizations.models import Invitation, Organization, Role
from seats import services as seat_services

from . import test_browser as _browser
from .support import catalogue, user
from .test_browser import check_page, visible_text

# The browser fixtures of test_browser.py: a logged-in page, and e-mailed links to the live server.
open_as = _browser.open_as
links_point_at_the_live_server = _browser.links_point_at_the_live_server

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pro_team() -> Plan:
    """Seed 004's Pro team: 240.00 a year, 3 seats included, members beyond billed per interval."""
    plan = Plan.objects.create(
        code="pro-team",
        name="Pro team",
        interval="year",
        base_price_minor=24000,
        seat_price_minor=12000,
        included_seats=3,
        max_seats=50,
        seat_invoicing="next_day",
        display_order=2,
        recommended_rank=2,
    )
    for interval, price in {"year": 12000, "month": 1200, "week": 350}.items():
        PlanSeatPrice.objects.create(plan=plan, interval=interval, unit_price_minor=price)
    for meter, limit in ((Meter.AI_TOKENS, 20_000_000), (Meter.DOCUMENTS, 10_000), (Meter.AGENTS, 3)):
        PlanLimit.objects.create(plan=plan, meter=meter, limit=limit)
    return plan


@pytest.fixture
def seed_004_catalogue(live_server):
    plans = catalogue()
    plans["pro-team"] = pro_team()
    return plans


def test_a_free_team_upgrades_to_pro_team_through_the_dialog(seed_004_catalogue, open_as):
    user("founder@fjord.example")
    page = open_as("founder@fjord.example")
    page.goto("/o/new/")
    page.get_by_label("Name").fill("Fjord Apps")
    page.get_by_role("button", name="Create organization").click()
    page.get_by_text("Fjord Apps is ready on Free team.").wait_for()
    slug = Organization.objects.get(name="Fjord Apps").slug

    page.locator("#action-change-plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    dialog.wait_for()
    pro = dialog.locator("#plan-option-pro-team")
    assert pro.get_by_text("Recommended").is_visible()
    check_page(page, "seed-004-free-team-dialog")
    pro.get_by_role("link", name="Review change to Pro team").click()
    dialog.get_by_text("From Free team to Pro team").wait_for()
    text = dialog.inner_text()
    assert "You pay €300.00 now (VAT included)." in text  # 240.00 + 25 % DK VAT, the year in full
    assert "You keep 3 seats on Pro team" in text
    check_page(page, "seed-004-upgrade-preview")
    dialog.get_by_role("button", name="Confirm change to Pro team").click()
    page.wait_for_url(f"**/o/{slug}/")
    page.get_by_text("You are now on Pro team.").wait_for()
    assert Subscription.objects.get(organization__slug=slug).plan.code == "pro-team"

    page.goto(f"/o/{slug}/billing/upcoming/")
    main = visible_text(page)
    assert "Renewal invoice of" in main and "Pro team" in main
    check_page(page, "seed-004-upcoming")


@pytest.fixture
def app_store_team(seed_004_catalogue):
    """A Pro team subscribed from the mobile app: the owner and 2 others, its cap."""
    owner = user("owner@mobile.example")
    at = clock.now()
    organization = org_services.organization_create(
        name="Mobile Team", owner=owner, at=at, slug="mobile", country="NO"
    )
    on = clock.organization_now_and_today(organization)[1]
    subscription_create(
        organization=organization,
        plan=seed_004_catalogue["pro-team"],
        start_on=on,
        at=at,
        acting_user=owner,
        source=Subscription.Source.APP_STORE,
    )
    seat_services.members_add(
        organization=organization,
        users=[user("one@mobile.example"), user("two@mobile.example")],
        role=Role.MEMBER,
        on=on,
        at=at,
        acting_user=owner,
    )
    return organization


def test_an_app_store_team_meets_its_cap_and_switches_to_web(app_store_team, open_as):
    page = open_as("owner@mobile.example")
    page.goto("/o/mobile/members/")
    cap = page.locator("#app-store-cap")
    assert "at most 3 members (the team admin and 2 others)" in cap.inner_text()
    page.locator("#invite").get_by_label("E-mail").fill("four@mobile.example")
    page.locator("#invite").get_by_role("button", name="Send invitation").click()
    page.get_by_text("To add more members, switch to a web subscription.").last.wait_for()
    assert not Invitation.objects.filter(email="four@mobile.example").exists()
    check_page(page, "seed-004-app-store-cap")

    cap.get_by_role("link", name="Switch to a web subscription").click()
    page.wait_for_url("**/o/mobile/billing/#app-store")
    assert "Subscribed from the mobile app" in visible_text(page)
    check_page(page, "seed-004-app-store-billing")
    page.get_by_role("button", name="Switch to a web subscription").click()
    page.get_by_text("Your team now has a web subscription").wait_for()
    assert Subscription.objects.get(organization=app_store_team).source == "web"

    page.goto("/o/mobile/members/")
    assert page.locator("#app-store-cap").count() == 0
    page.locator("#invite").get_by_label("E-mail").fill("four@mobile.example")
    page.locator("#invite").get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to four@mobile.example.").wait_for()
    assert Invitation.objects.filter(email="four@mobile.example").exists()
