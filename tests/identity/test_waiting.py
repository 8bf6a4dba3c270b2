"""The waiting list page: the exact prorated price of the seats needed, one confirmation that buys
them and admits everyone waiting, and the seat alert that e-mails owners once per crossing."""

import pytest
from django.core import mail

from billing.selectors import active_members, seats_total
from invoices.models import Invoice
from organizations.errors import RuleViolation
from seats import services
from seats.identity import alerts, waiting
from seats.identity.selectors import waiting_page
from seats.models import ScimUser, SeatWaiter
from tests.factories import UserFactory

from .support import MAR_3, MAR_3_AT, connect_sso, organization_with_seats

pytestmark = pytest.mark.django_db


def wait(organization, email, *, source="sso", scim=None):
    refusal = RuleViolation("No free seat.", code="seat_unavailable")
    return waiting.waiting_record(
        organization=organization,
        email=email,
        name="Wai Ting",
        source=source,
        refusal=refusal,
        at=MAR_3_AT,
        scim_attributes=scim,
    )


def test_owners_see_the_exact_price_buy_in_one_confirmation_and_the_waiting_become_members(
    client, frozen_clock, django_capture_on_commit_callbacks
):
    """Manual seats, all taken, two people waiting (one from SSO, one from SCIM). On 3 March a
    seat of 10.00 a month costs 29/31 of it for the rest of March: 9.35 each, 18.71 for two
    (rounded once per line), plus Danish VAT. Confirming issues exactly that invoice and admits
    both; the SCIM person gets their SCIM User; both are e-mailed."""
    organization, subscription, owner = organization_with_seats(
        seats=1, included_seats=0, seat_mode="manual", max_seats=None, seat_removal="none"
    )
    wait(organization, "sso.person@example.com")
    wait(organization, "scim.person@example.com", source="scim", scim={"userName": "scim.person@example.com"})
    client.force_login(owner)
    url = f"/o/{organization.slug}/seats/waiting/"

    page = client.get(url)
    assert page.status_code == 200
    shown = page.context["page"]
    assert shown.seats_needed == 2
    (document,) = shown.preview.documents
    (line,) = document.lines
    assert (line.quantity, line.fraction) == ("2", "29/31")
    assert "18.71" in line.amount
    html = page.content.decode()
    assert "sso.person@example.com" in html and "Buy 2 seats and admit 2" in html

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"count": 2, "state_token": shown.preview.state_token, "waiting": 2})
    assert done.status_code == 302
    invoice = Invoice.objects.filter(organization=organization).latest("pk")
    (issued_line,) = invoice.lines.all()
    assert (issued_line.quantity, issued_line.amount_minor) == (2, 1871)
    assert seats_total(subscription=subscription) == 3
    members = set(active_members(organization=organization).values_list("user__email", flat=True))
    assert {"sso.person@example.com", "scim.person@example.com"} <= members
    assert not SeatWaiter.objects.filter(organization=organization).exists()
    assert ScimUser.objects.get(organization=organization).user_name == "scim.person@example.com"
    told = sorted(m.to[0] for m in mail.outbox if "now a member" in m.subject)
    assert told == ["scim.person@example.com", "sso.person@example.com"]


def test_a_stale_confirmation_changes_nothing(client, frozen_clock):
    organization, subscription, owner = organization_with_seats(
        seats=1, included_seats=0, seat_mode="manual", max_seats=None
    )
    wait(organization, "first@example.com")
    client.force_login(owner)
    url = f"/o/{organization.slug}/seats/waiting/"
    token = client.get(url).context["page"].preview.state_token
    wait(organization, "second@example.com")  # someone else started waiting meanwhile

    refused = client.post(url, {"count": 1, "state_token": token, "waiting": 1})

    assert refused.status_code == 409
    assert "waiting list changed" in refused.content.decode()
    assert seats_total(subscription=subscription) == 1
    assert SeatWaiter.objects.filter(organization=organization).count() == 2
    assert client.get(url).context["page"].seats_needed == 2


def test_the_plan_cap_is_shown_instead_of_a_price(client, frozen_clock):
    organization, subscription, owner = organization_with_seats(
        seats=1, included_seats=0, seat_mode="manual", max_seats=1
    )
    wait(organization, "capped@example.com")
    client.force_login(owner)
    page = client.get(f"/o/{organization.slug}/seats/waiting/")
    assert page.context["page"].preview.refusal_code == "max_seats_exceeded"
    assert "These seats cannot be bought" in page.content.decode()


def test_a_seat_alert_emails_owners_once_per_crossing(frozen_clock, django_capture_on_commit_callbacks):
    """Three included seats, the owner on one: 2 free, alert at 1. A join crosses the line and
    e-mails once; checking again sends nothing; a leave re-arms it; the next join e-mails again."""
    organization, subscription, owner = organization_with_seats(included_seats=3, seat_removal="none")
    alerts.seat_alert_set(organization=organization, free_seats_at=1, at=MAR_3_AT, acting_user=owner)

    def join():
        (membership,) = services.members_add(
            organization=organization, users=[UserFactory()], role="member", on=MAR_3, at=MAR_3_AT
        )
        return membership

    with django_capture_on_commit_callbacks(execute=True):
        first = join()
        assert alerts.seat_alert_check(organization=organization, at=MAR_3_AT) is True
        assert alerts.seat_alert_check(organization=organization, at=MAR_3_AT) is False
    (alert_mail,) = mail.outbox
    assert alert_mail.to == [owner.email]
    assert alert_mail.subject == f"{organization.name}: 1 free seat left"

    with django_capture_on_commit_callbacks(execute=True):
        services.members_remove(organization=organization, memberships=[first], on=MAR_3, at=MAR_3_AT)
        assert alerts.seat_alert_check(organization=organization, at=MAR_3_AT) is False  # 2 free: re-armed
        join()
        assert alerts.seat_alert_check(organization=organization, at=MAR_3_AT) is True
    assert len(mail.outbox) == 2
    assert waiting_page(organization=organization, on=MAR_3, at=MAR_3_AT, language="en").alert.below


def test_owners_set_the_alert_on_the_waiting_page(client, frozen_clock):
    organization, subscription, owner = organization_with_seats()
    client.force_login(owner)
    response = client.post(f"/o/{organization.slug}/seats/alert/", {"free_seats_at": "2"})
    assert response.status_code == 302
    assert client.get(f"/o/{organization.slug}/seats/waiting/").context["page"].alert.free_seats_at == 2


def test_people_admitted_to_an_sso_organization_get_its_sign_in_link(
    oidc_provider, dns_zone, frozen_clock, django_capture_on_commit_callbacks
):
    organization, _subscription, owner = organization_with_seats(included_seats=3)
    connect_sso(organization, oidc_provider, dns_zone)
    wait(organization, "late@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        waiting.waiting_admit(
            organization=organization, purchase_count=0, on=MAR_3, at=MAR_3_AT, acting_user=owner
        )

    (told,) = [m for m in mail.outbox if "now a member" in m.subject]
    assert told.to == ["late@example.com"]
    assert f"/sso/{organization.slug}/" in told.body
