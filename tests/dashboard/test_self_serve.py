"""Self-serve start (issue 23): a new organization starts on the catalogue's free plan with its
owner holding a seat, and its owner upgrades through the change-plan dialog's preview."""

import re

import pytest

from billing.models import Plan, Subscription
from billing.selectors import seat_summary
from billing.services import plan_change, subscription_start_free
from dashboard.demo import demo_catalogue
from invoices.models import Invoice
from organizations.models import Organization
from tests.factories import OrganizationFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def catalogue(db):
    return {
        "free": PlanFactory(code="free", name="Free", base_price_minor=0, seat_price_minor=0, max_seats=3),
        "pro": PlanFactory(code="pro", name="Pro", base_price_minor=2000, seat_price_minor=1000),
    }


def _owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def test_a_new_organization_starts_on_the_free_plan_with_its_owner_on_a_seat(client, catalogue):
    owner = _owner(client)
    response = client.post("/o/new/", {"name": "Fjord Apps", "country": "DK"})
    organization = Organization.objects.get(name="Fjord Apps")
    assert response.status_code == 302 and response["Location"] == f"/o/{organization.slug}/"
    subscription = Subscription.objects.get(organization=organization)
    assert subscription.plan.code == "free"
    assert organization.memberships.get(user=owner).role == "owner"
    summary = seat_summary(organization=organization)
    assert summary.members == 1 and summary.seats >= summary.members  # the owner holds a seat
    assert not Invoice.objects.filter(organization=organization).exists()  # nothing to pay


def test_without_a_free_plan_the_owner_chooses_the_plan_to_start_with(client, catalogue):
    catalogue["free"].delete()
    _owner(client)
    response = client.post("/o/new/", {"name": "Fjord Apps", "country": "DK"}, follow=True)
    organization = Organization.objects.get(name="Fjord Apps")
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/o/{organization.slug}/plan/"
    assert "There is no free plan: choose the plan to start with." in page
    assert f'href="/o/{organization.slug}/plan/pro/"' in page
    assert not Subscription.objects.filter(organization=organization).exists()

    preview = client.get(f"/o/{organization.slug}/plan/pro/")
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]
    client.post(f"/o/{organization.slug}/plan/pro/confirm/", {"state_token": token})
    subscription = Subscription.objects.get(organization=organization)
    assert subscription.plan.code == "pro"
    assert Invoice.objects.filter(organization=organization).count() == 1


def test_upgrade_from_free_to_pro_through_the_dialog_preview(client, catalogue):
    _owner(client)
    client.post("/o/new/", {"name": "Fjord Apps", "country": "DK"})
    slug = Organization.objects.get(name="Fjord Apps").slug
    choices = client.get(f"/o/{slug}/plan/?all=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plan-modal-body")
    assert f'href="/o/{slug}/plan/pro/"' in choices.content.decode()
    preview = client.get(f"/o/{slug}/plan/pro/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plan-modal-body")
    assert "From Free to Pro" in preview.content.decode()
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]

    confirm = client.post(f"/o/{slug}/plan/pro/confirm/", {"state_token": token}, **HTMX)
    assert confirm["HX-Redirect"] == f"/o/{slug}/"
    assert Subscription.objects.get(organization__slug=slug).plan.code == "pro"
    assert Invoice.objects.filter(organization__slug=slug, reason="plan_change").count() == 1


def test_subscription_start_free_is_none_without_a_free_plan(frozen_clock):
    PlanFactory(code="paid")
    organization = OrganizationFactory()
    at = frozen_clock()
    assert subscription_start_free(organization=organization, on=at.date(), at=at) is None
    started = plan_change(organization=organization, plan=Plan.objects.get(code="paid"), on=at.date(), at=at)
    assert started.plan.code == "paid"


def test_a_free_team_moves_to_the_demos_max_team_through_the_dialog(client):
    """Seed 004: "you can upgrade a free team to a Pro or Max team in the web app"; the demo's
    Max team: 480.00 a year, the admin's seat and 2 more included, at most 50 members."""
    demo_catalogue()
    _owner(client)
    client.post("/o/new/", {"name": "Fjord Apps", "country": "DK"})
    slug = Organization.objects.get(name="Fjord Apps").slug
    assert Subscription.objects.get(organization__slug=slug).plan.code == "free-team"
    choices = client.get(f"/o/{slug}/plan/?all=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plan-modal-body")
    assert f'href="/o/{slug}/plan/max-team/"' in choices.content.decode()
    dialog = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "plan-modal-body"}
    preview = client.get(f"/o/{slug}/plan/max-team/", **dialog)
    text = re.sub(r"\s+", " ", preview.content.decode())
    assert "From Free team to Max team" in text and "You pay €600.00 now" in text  # 480.00 + 25 % VAT
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', text)[1]

    client.post(f"/o/{slug}/plan/max-team/confirm/", {"state_token": token}, **HTMX)
    subscription = Subscription.objects.get(organization__slug=slug)
    assert subscription.plan.code == "max-team"
    assert (subscription.plan.included_seats, subscription.plan.max_seats) == (3, 50)
    assert Invoice.objects.get(organization__slug=slug, reason="plan_change").total_minor == 60000
