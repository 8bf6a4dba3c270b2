"""Issue 23 item 7, the quick ones: the login form says "E-mail", "Contact sales" is a link,
and counts of seats read in the singular when there is one."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import translation

from dashboard.forms import SeatIncreaseForm

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_login_form_asks_for_the_e_mail(client):
    html = client.get("/login/").content.decode()
    assert re.search(r"<label[^>]*>\s*E-mail", html)
    assert "Username" not in html


@override_settings(SALES_URL="mailto:sales@seatbill.example")
def test_contact_sales_is_a_link(client, nordlys):
    client.force_login(get_user_model().objects.get(username="owner@nordlys.example"))
    html = client.get("/o/nordlys/plan/").content.decode()
    assert '<a href="mailto:sales@seatbill.example" id="contact-sales">Contact sales</a>' in html


def test_one_seat_is_said_in_the_singular(client, nordlys):
    client.force_login(get_user_model().objects.get(username="owner@nordlys.example"))
    preview = client.get(
        "/o/nordlys/seats/preview/?seats=11", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="seat-editor"
    )
    token = re.search(r'name="state_token" value="([0-9a-f]+)"', preview.content.decode())[1]
    client.post("/o/nordlys/seats/purchase/", {"count": 1, "interval": "", "state_token": token})
    page = client.get("/o/nordlys/seats/").content.decode()
    assert "1 seat added. The invoice for it is under Invoices." in page


def test_the_seat_form_says_seat_for_one_in_english_and_danish():
    form = SeatIncreaseForm(seats_now=1, intervals=[])
    assert str(form.fields["seats"].help_text) == "You have 1 seat now. Enter the new total."
    with translation.override("da"):
        form = SeatIncreaseForm(seats_now=1, intervals=[])
        assert form.fields["seats"].help_text == "I har 1 plads nu. Angiv det nye samlede antal."


def _token(response) -> str:
    return re.search(r'name="state_token" value="([0-9a-f]+)"', response.content.decode())[1]


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_a_stale_seat_preview_keeps_the_total_that_was_typed(client, nordlys):
    """The owner types 14 (10 now: 4 more); meanwhile a seat is bought elsewhere (11). The
    confirmation is stale; the new preview is for the typed 14 (3 more), not 15."""
    client.force_login(get_user_model().objects.get(username="owner@nordlys.example"))
    preview = client.get("/o/nordlys/seats/preview/?seats=14")
    assert 'name="seats" value="14"' in preview.content.decode()
    other = client.get("/o/nordlys/seats/preview/?seats=11")
    client.post("/o/nordlys/seats/purchase/", {"count": 1, "state_token": _token(other)})

    stale = client.post(
        "/o/nordlys/seats/purchase/",
        {"count": 4, "seats": 14, "interval": "", "state_token": _token(preview)},
    )

    page = _text(stale)
    assert "Something changed since you reviewed this" in page
    assert "From 11 to 14 seats (3 more)." in page
    assert 'name="seats" value="14"' in stale.content.decode()


def test_a_stale_seat_preview_whose_total_is_already_there_asks_for_a_new_number(client, nordlys):
    client.force_login(get_user_model().objects.get(username="owner@nordlys.example"))
    preview = client.get("/o/nordlys/seats/preview/?seats=11")
    other = client.get("/o/nordlys/seats/preview/?seats=11")
    client.post("/o/nordlys/seats/purchase/", {"count": 1, "state_token": _token(other)})

    stale = client.post(
        "/o/nordlys/seats/purchase/",
        {"count": 1, "seats": 11, "interval": "", "state_token": _token(preview)},
    )

    page = _text(stale)
    assert "Something changed since you reviewed this" in page
    assert "Enter more than the 11 seats you have." in page
    assert 'value="11"' in stale.content.decode()  # the typed number, kept in the field


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [("en", "1 of 1 seat used", "1 of 2 seats used"), ("da", "1 af 1 plads i brug", "1 af 2 pladser i brug")],
)
def test_seats_used_reads_in_the_singular_for_one_seat(client, settings, language, one, two):
    from billing.models import SeatItem
    from tests.factories import MembershipFactory, PlanFactory, SubscriptionFactory

    subscription = SubscriptionFactory(plan=PlanFactory(included_seats=1, seat_mode="manual"))
    owner = MembershipFactory(organization=subscription.organization, role="owner")
    client.force_login(owner.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    url = f"/o/{subscription.organization.slug}/members/"

    assert one in _text(client.get(url))
    SeatItem.objects.filter(subscription=subscription).update(quantity=1)  # one paid seat more
    assert two in _text(client.get(url))
