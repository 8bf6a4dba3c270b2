"""The members page's seat information: billing's numbers reach organizations' page through
seats.members."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from billing.models import PlanSeatPrice, SeatIntervalChange, SeatItem
from organizations import formatting as fmt
from organizations.models import Invitation, Role
from seats import services as seat_services
from seats.previews import members_add_preview
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

START, TODAY = dt.date(2026, 3, 1), dt.date(2026, 3, 20)


@pytest.fixture
def clock_start():
    """The pages are read on 20 March 2026, 09:00 UTC."""
    return at(TODAY)


def text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_members_page_says_how_many_seats_are_used(client):
    organization, _subscription, owner = subscribed_organization(start=START, included_seats=10)
    url = reverse("organization_members", kwargs={"slug": organization.slug})
    client.force_login(owner)
    assert "1 of 10 seats used" in text(client.get(url))

    seat_services.members_add(
        organization=organization, users=UserFactory.create_batch(7), role=Role.MEMBER, on=START, at=at(START)
    )

    page = text(client.get(url))
    assert "8 of 10 seats used" in page
    assert "Manage seats" in page  # owners manage seats
    admin = MembershipFactory(organization=organization, role=Role.ADMIN)  # the 9th, not through seats
    client.force_login(admin.user)
    page = text(client.get(url))
    assert "9 of 10 seats used" in page and "Manage seats" not in page


def test_a_full_organization_says_the_next_person_needs_a_seat(client):
    organization, _subscription, owner = subscribed_organization(start=START, included_seats=2)
    seat_services.members_add(
        organization=organization, users=[UserFactory()], role=Role.MEMBER, on=START, at=at(START)
    )
    client.force_login(owner)
    page = text(client.get(reverse("organization_members", kwargs={"slug": organization.slug})))
    assert "2 of 2 seats used: the next person needs a new seat" in page


def test_without_a_subscription_there_is_no_seat_line(client):
    membership = MembershipFactory(role=Role.OWNER)
    client.force_login(membership.user)
    html = client.get(reverse("organization_members", kwargs={"slug": membership.organization.slug}))
    assert html.status_code == 200 and 'id="seats-used"' not in html.content.decode()


# ---------------------------------------------------------------------------
# Per-member billing intervals (seed 004; issue 11 item 3)


@pytest.fixture
def team():
    """Pro, yearly from 1 Jan 2026, 3 included seats (owner and two members), paid seats at
    €120/year, €12/month, €3.50/week invoiced at once; Anna pays monthly; today is 20 Mar."""
    organization, subscription, owner = subscribed_organization(
        start=dt.date(2026, 1, 1),
        interval="year",
        base_price_minor=24000,
        seat_price_minor=12000,
        included_seats=3,
        seat_invoicing="immediate",
    )
    for interval, price in {"year": 12000, "month": 1200, "week": 350}.items():
        PlanSeatPrice.objects.create(plan=subscription.plan, interval=interval, unit_price_minor=price)
    start = dt.date(2026, 1, 1)
    seat_services.members_add(
        organization=organization, users=UserFactory.create_batch(2), role=Role.MEMBER, on=start, at=at(start)
    )
    (anna,) = seat_services.members_add(
        organization=organization,
        users=[UserFactory(email="anna@example.com")],
        role=Role.MEMBER,
        on=dt.date(2026, 3, 10),
        at=at(dt.date(2026, 3, 10)),
        seat_interval="month",
    )
    return organization, owner, anna


LABELS = {
    "week": "Weekly · €3.50 a week",
    "month": "Monthly · €12.00 a month",
    "year": "Yearly · €120.00 a year",
}


def members_url(organization):
    return reverse("organization_members", kwargs={"slug": organization.slug})


def test_inviting_shows_each_intervals_price_and_what_joining_today_charges(client, team):
    organization, owner, _anna = team
    client.force_login(owner)
    response = client.get(members_url(organization))
    html, page = response.content.decode(), text(response)

    for interval in ("week", "month", "year"):
        preview = members_add_preview(
            organization=organization, count=1, on=TODAY, at=at(TODAY), seat_interval=interval
        )
        charged = fmt.money(preview.amount_due_now_minor, "EUR", "en")
        assert preview.amount_due_now_minor > 0
        assert f'id="invite-interval-{interval}"' in html
        label = LABELS[interval]
        assert f"{label}, excl. VAT Joining today: {charged} charged now (VAT included)." in page
    assert re.search(r'value="year" id="invite-interval-year" checked', html)  # the plan's own interval


def test_an_invitation_keeps_the_interval_picked(client, team, django_capture_on_commit_callbacks):
    organization, owner, _anna = team
    client.force_login(owner)
    response = client.post(
        reverse("member_invite", kwargs={"slug": organization.slug}),
        {"email": "new@example.com", "role": "member", "seat_interval": "week"},
    )
    assert response.status_code == 302
    assert Invitation.objects.get(email="new@example.com").seat_interval == "week"
    refused = client.post(
        reverse("member_invite", kwargs={"slug": organization.slug}),
        {"email": "other@example.com", "role": "member", "seat_interval": "fortnight"},
    )
    assert refused.status_code == 200 and not Invitation.objects.filter(email="other@example.com").exists()


def test_each_member_shows_interval_and_next_renewal_and_the_admin_changes_it_at_renewal(client, team):
    organization, owner, anna = team
    admin = MembershipFactory(organization=organization, role=Role.ADMIN)
    client.force_login(admin.user)
    url = members_url(organization)
    row = text_of(client.get(url), f"member-{anna.pk}-billing")
    assert "Monthly" in row and "Renews on 1 Apr 2026" in row and "Change at renewal" in row
    owner_row = text_of(client.get(url), f"member-{organization.memberships.get(user=owner).pk}-billing")
    assert owner_row.startswith("Included seat Renews on 1 Jan 2027") and "Change at renewal" not in owner_row

    response = client.post(
        reverse("membership_interval_change", kwargs={"slug": organization.slug, "membership_id": anna.pk}),
        {"interval": "year"},
    )

    assert response.status_code == 302
    change = SeatIntervalChange.objects.get(membership=anna)
    assert (change.to_interval, change.effective_on) == ("year", dt.date(2026, 4, 1))
    page = client.get(url)
    assert "anna@example.com moves to yearly billing on 1 Apr 2026" in text(page)
    row = text_of(page, f"member-{anna.pk}-billing")
    assert "Monthly Renews on 1 Apr 2026 Moves to yearly billing on 1 Apr 2026" in row
    assert re.search(r'<option value="year" selected>Yearly</option>', page.content.decode())
    anna.refresh_from_db()
    assert anna.seat_interval == "month"  # until the renewal


def test_a_member_on_an_included_seat_cannot_be_given_an_interval(client, team):
    organization, owner, _anna = team
    included = organization.memberships.filter(role=Role.MEMBER, seat_interval="").first()
    client.force_login(owner)
    response = client.post(
        reverse(
            "membership_interval_change", kwargs={"slug": organization.slug, "membership_id": included.pk}
        ),
        {"interval": "year"},
    )
    assert response.status_code == 200 and "included seat" in text(response)
    assert not SeatIntervalChange.objects.exists()


def test_members_and_finance_cannot_change_an_interval(client, team):
    organization, _owner, anna = team
    finance = MembershipFactory(organization=organization, role=Role.FINANCE)
    client.force_login(finance.user)
    url = reverse("membership_interval_change", kwargs={"slug": organization.slug, "membership_id": anna.pk})
    assert client.post(url, {"interval": "year"}).status_code == 403
    assert not SeatIntervalChange.objects.exists()


def text_of(response, element_id: str) -> str:
    html = response.content.decode()
    inner = re.search(rf'id="{element_id}">(.*?)</td>', html, re.S)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inner)).strip()


def test_the_overviews_plan_card_shows_the_paid_seats_of_each_interval(client, team):
    organization, owner, _anna = team
    seat_services.members_add(
        organization=organization,
        users=UserFactory.create_batch(2),
        role=Role.MEMBER,
        on=TODAY,
        at=at(TODAY),
        seat_interval="week",
    )
    client.force_login(owner)
    html = client.get(reverse("organization_overview", kwargs={"slug": organization.slug})).content.decode()
    lines = re.findall(r"<li>([^<]*)</li>", re.search(r'id="plan-seat-lines"[^>]*>(.*?)</ul>', html, re.S)[1])
    week = SeatItem.objects.get(subscription__organization=organization, interval="week")
    assert lines == [
        f"2 seats, weekly, {fmt.date_range(week.period_start, week.period_end, 'en')}",
        f"1 seat, monthly, {fmt.date_range(dt.date(2026, 3, 1), dt.date(2026, 4, 1), 'en')}",
    ]


def test_a_charge_on_a_later_invoice_says_its_amount_and_the_invoices_day(client, team):
    """Seats invoiced the next day: the invite text gives the amount and the day of that
    invoice, from the engine's dry run (billing.preview), not "charged on a later invoice"."""
    organization, owner, _anna = team
    plan = organization.subscriptions.get().plan
    plan.seat_invoicing = "next_day"
    plan.save(update_fields=["seat_invoicing"])
    client.force_login(owner)

    page = text(client.get(members_url(organization)))

    for interval in ("week", "month", "year"):
        preview = members_add_preview(
            organization=organization, count=1, on=TODAY, at=at(TODAY), seat_interval=interval
        )
        (pending,) = [document for document in preview.documents if document.type == "pending"]
        assert preview.amount_due_now_minor == 0 and pending.subtotal_minor > 0
        amount = fmt.money(pending.subtotal_minor, "EUR", "en")
        assert (
            f"{LABELS[interval]}, excl. VAT Joining today: {amount} excl. VAT on the invoice of 21 Mar 2026."
            in page
        )
    assert "charged on a later invoice" not in page
