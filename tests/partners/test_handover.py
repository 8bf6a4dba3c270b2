"""Seed 003: an accountant's firm pays for its client companies, then hands one over.

The money is exact: each test names every document each party gets, with its amounts,
worked out by hand in the comments (billing-rules.md: each line rounded once, half up;
tax on the subtotal). docs/billing.md "Partners: handover and handback" is the rule.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from billing.domain.money import format_amount
from billing.models import SeatLedgerEntry, Subscription
from billing.preview import plan_change_preview
from billing.selectors import state_token
from billing.services import PreviewStale, subscription_renew
from invoices.models import CreditBalanceEntry, CreditNote, Invoice
from invoices.services import credit_balance_minor
from organizations import formatting as fmt
from organizations import partners as org_partners
from organizations.errors import RuleViolation
from organizations.models import Agreement, AgreementEvent, AuditLogEntry, Invitation, Membership, Role
from outbox.models import OutboxMessage
from outbox.relay import relay_due
from partners import services as billing_partners
from seats import services as seat_services
from tests.factories import MembershipFactory

from .support import add_member, at, client, monthly_plans, partner_firm, yearly_plans

pytestmark = pytest.mark.django_db

MAR_1, MAR_17, APR_1 = dt.date(2026, 3, 1), dt.date(2026, 3, 17), dt.date(2026, 4, 1)
JAN_1, JUN_15, JAN_1_2027 = dt.date(2026, 1, 1), dt.date(2026, 6, 15), dt.date(2027, 1, 1)


def lines_of(document) -> list[tuple[str, int]]:
    return [(line.description, line.amount_minor) for line in document.lines.order_by("position")]


def money_of(document) -> tuple[int, int, int]:
    return document.subtotal_minor, document.tax_minor, document.total_minor


@pytest.fixture
def firm():
    return partner_firm()


@pytest.fixture
def bakery(firm):
    """A Danish client on Team (300.00 + 2 seats × 50.00) from 1 March 2026, internal."""
    partner, anna = firm
    team, plus = monthly_plans()
    link = client(
        partner,
        anna,
        name="Bageriet Hansen",
        on=MAR_1,
        plan=team,
        seats=5,
        legal_name="Bageriet Hansen ApS",
        country="DK",
        vat_id="DK22222228",
        language="da",
    )
    return link, team, plus


def handover(link, plan, on, actor, email="mette@bageriet.dk", **kwargs):
    return billing_partners.agreement_handover(
        link=link,
        plan=plan,
        superuser_name="Mette Hansen",
        superuser_reference="MH-1",
        superuser_email=email,
        on=on,
        at=at(on),
        acting_user=actor,
        **kwargs,
    )


# ---------------------------------------------------------------------------
# Internal agreement: the partner is the bill-to party


def test_an_internal_clients_invoices_are_the_partners_documents(firm, bakery):
    partner, anna = firm
    link, team, _plus = bakery
    bakery_org = link.organization
    invoice = Invoice.objects.get(serviced_organization=bakery_org)
    # Addressed to, numbered for and taxed by the partner (DK 25 %): 300.00 + 2 × 50.00 = 400.00.
    assert invoice.organization == partner
    assert invoice.number == f"{partner.customer_code}-0001"
    assert (invoice.customer_name, invoice.customer_vat_id) == ("Revisorhuset ApS", "DK11111114")
    assert money_of(invoice) == (40000, 10000, 50000)
    assert lines_of(invoice)[0][0].startswith("Bageriet Hansen: Team, 1 Mar 2026")
    assert not Invoice.objects.filter(organization=bakery_org).exists()


def test_the_partners_credit_balance_pays_an_internal_clients_invoice(firm, bakery):
    partner, anna = firm
    link, team, _plus = bakery
    CreditBalanceEntry.objects.create(
        organization=partner,
        currency="EUR",
        amount_minor=10000,
        kind=CreditBalanceEntry.Kind.ADJUSTMENT,
        effective_on=MAR_1,
        created_at=at(MAR_1),
    )
    seat_services.seat_purchase(
        organization=link.organization, count=1, on=MAR_17, at=at(MAR_17), acting_user=anna
    )
    invoice = Invoice.objects.filter(serviced_organization=link.organization).latest("pk")
    # 1 seat × 50.00 × 15/31 = 24.19; tax 6.05; total 30.24, all paid from the partner's 100.00.
    assert invoice.organization == partner
    assert money_of(invoice) == (2419, 605, 3024)
    assert (invoice.credit_applied_minor, invoice.amount_due_minor) == (3024, 0)
    assert credit_balance_minor(organization=partner, currency="EUR") == 10000 - 3024


# ---------------------------------------------------------------------------
# Handover in the middle of a monthly period


def test_handover_mid_month_settles_by_day_between_partner_and_client(firm, bakery):
    """17 March of [1 Mar, 1 Apr): 15 of 31 days are left. The partner paid Team with 5 seats
    for March; the client takes Plus (450.00 + 40.00 a seat beyond 3) with the same 5 seats."""
    partner, anna = firm
    link, team, plus = bakery
    bakery_org = link.organization
    paid = Invoice.objects.get(organization=partner)

    result = handover(link, plus, MAR_17, anna)

    note = result.settlement.credit_note
    # Partner: base 300.00 × 15/31 = 145.16; 2 seats × 50.00 × 15/31 = 48.39 (48.387);
    # subtotal 193.55, tax 25 % = 48.39 (48.3875), total 241.94 to its credit balance.
    assert note.organization == partner and note.invoice == paid
    assert note.number == f"{paid.number}-CN-01"
    assert [amount for _d, amount in lines_of(note)] == [14516, 4839]
    assert money_of(note) == (19355, 4839, 24194)
    assert note.customer_name == "Revisorhuset ApS"
    assert credit_balance_minor(organization=partner, currency="EUR") == 24194
    # Client: Plus 450.00 × 15/31 = 217.74; 2 seats × 40.00 × 15/31 = 38.71 (38.7097);
    # subtotal 256.45, tax DK 25 % = 64.11 (64.1125), total 320.56, numbered with its own code.
    invoice = result.settlement.invoice
    assert invoice.organization == bakery_org
    assert invoice.number == f"{bakery_org.customer_code}-0001"
    assert invoice.customer_name == "Bageriet Hansen ApS"
    assert [amount for _d, amount in lines_of(invoice)] == [21774, 3871]
    assert money_of(invoice) == (25645, 6411, 32056)
    assert (invoice.period_start, invoice.period_end) == (MAR_17, APR_1)
    assert result.settlement.pending_invoice is None
    # The anchor does not move; the plan is the chosen one; seats carried over.
    subscription = Subscription.objects.get(organization=bakery_org)
    assert (subscription.anchor, subscription.current_period_start, subscription.current_period_end) == (
        MAR_1,
        MAR_1,
        APR_1,
    )
    assert subscription.plan == plus
    assert SeatLedgerEntry.objects.filter(subscription=subscription).latest("id").total_seats_after == 5
    link.refresh_from_db()
    assert link.agreement == Agreement.EXTERNAL
    assert org_partners.bill_to_for(bakery_org) == bakery_org


def test_after_the_handover_the_client_is_invoiced_and_the_partner_never_again(firm, bakery):
    partner, anna = firm
    link, team, plus = bakery
    handover(link, plus, MAR_17, anna)
    partner_documents = Invoice.objects.filter(organization=partner).count()

    subscription_renew(
        subscription=Subscription.objects.get(organization=link.organization), on=APR_1, at=at(APR_1)
    )

    renewal = Invoice.objects.get(organization=link.organization, reason="subscription_cycle")
    # Plus for April, renewed with the seats in use: nobody has joined yet, so the 3 included
    # seats and no paid one: 450.00, DK 25 % = 112.50, total 562.50.
    assert renewal.number == f"{link.organization.customer_code}-0002"
    assert money_of(renewal) == (45000, 11250, 56250)
    assert Invoice.objects.filter(organization=partner).count() == partner_documents
    # Renewing again that day creates nothing new.
    subscription_renew(
        subscription=Subscription.objects.get(organization=link.organization), on=APR_1, at=at(APR_1)
    )
    assert Invoice.objects.filter(serviced_organization=link.organization).count() == 3


def test_pending_seat_charges_are_invoiced_to_the_partner_before_the_handover(firm):
    partner, anna = firm
    team, plus = monthly_plans()
    team.seat_invoicing = "next_invoice"
    team.save()
    link = client(partner, anna, name="Kiosken", on=MAR_1, plan=team, seats=3)
    seat_services.seat_purchase(
        organization=link.organization, count=2, on=dt.date(2026, 3, 10), at=at(dt.date(2026, 3, 10))
    )

    result = handover(link, team, MAR_17, anna, email="ejer@kiosken.dk")

    pending = result.settlement.pending_invoice
    # 2 seats × 50.00 × 22/31 from 10 March = 70.97, invoiced to the partner on 17 March ...
    assert pending.organization == partner and money_of(pending) == (7097, 1774, 8871)
    # ... then credited with the rest by day: 300.00 × 15/31 = 145.16, 2 × 50.00 × 15/31 = 48.39.
    note = result.settlement.credit_note
    assert note.invoice == pending and money_of(note) == (19355, 4839, 24194)
    assert money_of(result.settlement.invoice) == (19355, 4839, 24194)


# ---------------------------------------------------------------------------
# Handover in the middle of a yearly period, to a client in another country


@pytest.fixture
def builder(firm):
    """A German client (no VAT ID: German 19 %) on Pro yearly with 4 seats from 1 Jan 2026."""
    partner, anna = firm
    yearly, monthly = yearly_plans()
    link = client(
        partner,
        anna,
        name="Müller Bau",
        on=JAN_1,
        plan=yearly,
        seats=4,
        legal_name="Müller Bau GmbH",
        address_line1="Hauptstraße 1",
        postcode="10115",
        city="Berlin",
        country="DE",
        language="de",
    )
    return link, yearly, monthly


def test_handover_mid_year_credits_the_partner_and_invoices_the_client_at_its_own_rate(firm, builder):
    """15 June 2026 of [1 Jan 2026, 1 Jan 2027): 200 of 365 days are left (40/73)."""
    partner, anna = firm
    link, yearly, _monthly = builder
    paid = Invoice.objects.get(organization=partner)
    # The partner paid the year at its own rate: 1,200.00 + 2 × 100.00 = 1,400.00 + DK 25 %.
    assert money_of(paid) == (140000, 35000, 175000)

    result = handover(link, yearly, JUN_15, anna, email="klaus@mueller-bau.de")

    note = result.settlement.credit_note
    # 1,200.00 × 40/73 = 657.53 (657.534); 2 × 100.00 × 40/73 = 109.59 (109.589);
    # subtotal 767.12, tax at the corrected invoice's 25 % = 191.78, total 958.90.
    assert note.invoice == paid and note.tax_rate == paid.tax_rate
    assert [amount for _d, amount in lines_of(note)] == [65753, 10959]
    assert money_of(note) == (76712, 19178, 95890)
    invoice = result.settlement.invoice
    # Same lines to the client, taxed by the client: German 19 % = 145.75 (145.7528), total 912.87.
    assert (invoice.customer_name, invoice.customer_country, invoice.tax_rate) == (
        "Müller Bau GmbH",
        "DE",
        Decimal("19"),
    )
    assert [amount for _d, amount in lines_of(invoice)] == [65753, 10959]
    assert money_of(invoice) == (76712, 14575, 91287)
    assert (invoice.period_start, invoice.period_end) == (JUN_15, JAN_1_2027)


def test_handover_to_a_monthly_plan_keeps_the_yearly_anchor(firm, builder):
    partner, anna = firm
    link, _yearly, monthly = builder

    result = handover(link, monthly, JUN_15, anna, email="klaus@mueller-bau.de")

    # The partner's credit is the same 958.90; the client pays Pro monthly for the month of
    # the anchor (1 Jan) that holds 15 June, [1 Jun, 1 Jul): 16/30 of 150.00 = 80.00 and
    # 2 × 10.00 × 16/30 = 10.67; subtotal 90.67, German 19 % = 17.23, total 107.90.
    assert money_of(result.settlement.credit_note) == (76712, 19178, 95890)
    assert money_of(result.settlement.invoice) == (9067, 1723, 10790)
    subscription = Subscription.objects.get(organization=link.organization)
    assert (subscription.anchor, subscription.current_period_start, subscription.current_period_end) == (
        JAN_1,
        dt.date(2026, 6, 1),
        dt.date(2026, 7, 1),
    )


def test_the_preview_shows_exactly_what_the_handover_issues_and_a_stale_one_is_refused(firm, builder):
    partner, anna = firm
    link, yearly, _monthly = builder
    preview = billing_partners.agreement_handover_preview(
        link=link,
        plan=yearly,
        superuser_name="Klaus Müller",
        superuser_reference="",
        superuser_email="klaus@mueller-bau.de",
        on=JUN_15,
        at=at(JUN_15),
        acting_user=anna,
    )
    assert preview.allowed
    assert [(d.kind, d.party_role, d.total_minor) for d in preview.documents] == [
        ("credit_note", "partner", 95890),
        ("invoice", "client", 91287),
    ]
    assert not CreditNote.objects.exists() and not Invitation.objects.exists()
    assert mail.outbox == []
    # A seat bought meanwhile makes the preview stale: refused, nothing changes.
    seat_services.seat_purchase(
        organization=link.organization, count=1, on=JUN_15, at=at(JUN_15), acting_user=anna
    )
    before = (Invoice.objects.count(), CreditNote.objects.count())
    with pytest.raises(PreviewStale):
        handover(link, yearly, JUN_15, anna, email="klaus@mueller-bau.de", expected_token=preview.token)
    assert (Invoice.objects.count(), CreditNote.objects.count()) == before
    link.refresh_from_db()
    assert link.agreement == Agreement.INTERNAL


def test_a_refused_handover_changes_nothing(firm, bakery):
    partner, anna = firm
    link, team, plus = bakery
    plus.max_seats = 4
    plus.save()
    for n in range(5):
        add_member(link.organization, f"m{n}@bageriet.dk", Role.MEMBER, MAR_1)
    before = (Invoice.objects.count(), CreditNote.objects.count(), Invitation.objects.count())
    with pytest.raises(RuleViolation) as refused:
        handover(link, plus, MAR_17, anna)
    assert "at most 4 members" in refused.value.message
    assert (Invoice.objects.count(), CreditNote.objects.count(), Invitation.objects.count()) == before
    link.refresh_from_db()
    assert link.agreement == Agreement.INTERNAL
    assert mail.outbox == []


def test_only_the_partners_owners_and_admins_hand_over(firm, bakery):
    partner, anna = firm
    link, team, plus = bakery
    finance = add_member(partner, "finance@revisorhuset.dk", Role.FINANCE, MAR_1)
    with pytest.raises(RuleViolation) as refused:
        handover(link, plus, MAR_17, finance)
    assert refused.value.code == "partner_required"
    bo = add_member(partner, "bo@revisorhuset.dk", Role.ADMIN, MAR_1)
    assert handover(link, plus, MAR_17, bo).link.agreement == Agreement.EXTERNAL


# ---------------------------------------------------------------------------
# The e-mail, its link, the new owner's first login


@pytest.fixture(autouse=True)
def site_url(settings):
    """Every e-mailed link starts with the site's address (core.site)."""
    settings.SITE_URL = "https://app.example.com"


def _link_in(body: str) -> str:
    return re.search(r"https://app\.example\.com(/invitations/[^/\s]+/)", body).group(1)


def test_the_client_is_emailed_in_its_language_with_a_link_valid_7_days(
    firm, bakery, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, team, plus = bakery
    with django_capture_on_commit_callbacks(execute=True):
        result = handover(link, plus, MAR_17, anna)

    agreement_mails = [m for m in mail.outbox if "aftale" in m.subject]
    assert len(agreement_mails) == 1 and agreement_mails[0].to == ["mette@bageriet.dk"]
    message = agreement_mails[0]
    assert message.subject == "Bageriet Hansen: jeres aftale er ændret – log ind på Seatbill"
    assert "Revisorhuset har ændret aftalen for Bageriet Hansen" in message.body
    assert "fra 17. marts 2026 betaler Bageriet Hansen selv" in message.body
    assert "Plus" in message.body and "Linket virker i 7 dage, til 24. marts 2026" in message.body
    invitation = result.invitation
    assert (invitation.role, invitation.status, invitation.invited_by) == (Role.OWNER, "pending", anna)
    assert invitation.expires_at == at(MAR_17) + dt.timedelta(days=7)
    assert _link_in(message.body) == f"/invitations/{invitation.token}/"
    # Each party also gets its own document: the superuser became the client's billing e-mail.
    documents = {
        tuple(m.to): m.extra_headers["X-Seatbill-Document"]
        for m in mail.outbox
        if "X-Seatbill-Document" in m.extra_headers
    }
    assert documents == {
        ("faktura@revisorhuset.dk",): result.settlement.credit_note.number,
        ("mette@bageriet.dk",): result.settlement.invoice.number,
    }


def test_the_new_owner_logs_in_for_the_first_time_from_the_link(
    firm, bakery, client, frozen_clock, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, team, plus = bakery
    with django_capture_on_commit_callbacks(execute=True):
        handover(link, plus, MAR_17, anna)
    path = _link_in(next(m for m in mail.outbox if "aftale" in m.subject).body)
    frozen_clock.set(at(dt.date(2026, 3, 18)))

    page = client.get(path)
    assert page.status_code == 200 and b"password" in page.content.lower()
    response = client.post(
        path,
        {
            "first_name": "Mette",
            "last_name": "Hansen",
            "password1": "Surdej-og-rugbr0d!",
            "password2": "Surdej-og-rugbr0d!",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/o/{link.organization.slug}/"
    owner = Membership.objects.get(organization=link.organization, removed_at__isnull=True)
    assert (owner.user.email, owner.role) == ("mette@bageriet.dk", Role.OWNER)
    # Logged in: the owner sees the company, its invoice and who pays now.
    status = client.get(f"/o/{link.organization.slug}/subscription/status/")
    assert status.status_code == 200
    assert "External (the client pays)" in status.content.decode()
    assert client.get(f"/o/{link.organization.slug}/invoices/").status_code == 200
    # The link was used: it does not work a second time.
    client.logout()
    assert client.get(path).status_code == 410


def test_the_log_in_email_can_be_sent_again_and_the_old_link_stops_working(
    firm, bakery, client, frozen_clock, django_capture_on_commit_callbacks
):
    partner, anna = firm
    link, team, plus = bakery
    with django_capture_on_commit_callbacks(execute=True):
        handover(link, plus, MAR_17, anna)
    old_path = _link_in(next(m for m in mail.outbox if "aftale" in m.subject).body)
    with django_capture_on_commit_callbacks(execute=True):
        billing_partners.handover_invitation_resend(
            link=link,
            on=dt.date(2026, 3, 27),
            at=at(dt.date(2026, 3, 27)),
            acting_user=anna,
        )
    again = mail.outbox[-1]
    assert again.to == ["mette@bageriet.dk"] and again.subject.startswith("Bageriet Hansen: jeres aftale")
    assert "til 3. april 2026" in again.body
    frozen_clock.set(at(dt.date(2026, 3, 28)))
    assert client.get(old_path).status_code == 410
    assert client.get(_link_in(again.body)).status_code == 200


class MailServerDown(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


def test_with_the_mail_server_down_the_handover_commits_and_each_email_arrives_once_later(
    firm, bakery, settings, frozen_clock, django_capture_on_commit_callbacks
):
    """Issue 21, finding 5 for partners: the handover's e-mails wait in the outbox while the
    mail server is down (the handover is not undone), and each goes out once it is back."""
    partner, anna = firm
    link, team, plus = bakery
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    with django_capture_on_commit_callbacks(execute=True):
        result = handover(link, plus, MAR_17, anna)

    link.refresh_from_db()
    assert link.agreement == Agreement.EXTERNAL  # committed
    assert Invitation.objects.filter(pk=result.invitation.pk).exists() and mail.outbox == []
    waiting = OutboxMessage.objects.filter(task_name="outbox.mail_send", done_at__isnull=True)
    assert waiting.exists() and all("Connection refused" in row.last_error for row in waiting)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    frozen_clock.advance(minutes=5)
    relay_due()
    frozen_clock.advance(hours=2)
    relay_due()

    (agreement_mail,) = [m for m in mail.outbox if "aftale" in m.subject]
    assert agreement_mail.to == ["mette@bageriet.dk"]
    assert agreement_mail.extra_headers["Content-Language"] == "da"
    assert _link_in(agreement_mail.body) == f"/invitations/{result.invitation.token}/"
    sent = [(m.subject, tuple(m.to)) for m in mail.outbox]
    assert len(sent) == len(set(sent))  # each once
    assert not OutboxMessage.objects.filter(done_at__isnull=True).exists()


# ---------------------------------------------------------------------------
# Who sees what: the partner's remaining access, another firm, the audit log


def test_the_partner_keeps_an_accountants_access_until_the_owner_removes_it(firm, bakery, client):
    partner, anna = firm
    link, team, plus = bakery
    slug = link.organization.slug
    client.force_login(anna)
    assert client.get(f"/o/{slug}/seats/").status_code == 200  # internal: owner rights

    handover(link, plus, MAR_17, anna)

    assert client.get(f"/o/{slug}/").status_code == 200
    assert client.get(f"/o/{slug}/invoices/").status_code == 200  # as the accountant: finance
    assert client.get(f"/o/{slug}/subscription/status/").status_code == 200
    assert client.get(f"/o/{slug}/seats/").status_code == 403  # no longer the owner
    assert client.get(f"/o/{slug}/members/").status_code == 403
    owner = add_member(link.organization, "mette@bageriet.dk", Role.OWNER, MAR_17)

    billing_partners.partner_access_remove(
        organization=link.organization, acting_user=owner, on=MAR_17, at=at(MAR_17)
    )

    assert client.get(f"/o/{slug}/").status_code == 404
    assert client.get(f"/o/{partner.slug}/companies/").content.decode().count("Bageriet Hansen") == 0
    event = AgreementEvent.objects.filter(organization=link.organization).first()
    assert (event.kind, event.actor_label) == ("access_removed", "mette@bageriet.dk")


def test_a_partner_of_another_firm_gets_404_for_this_firms_clients(firm, bakery, client):
    partner, anna = firm
    link, team, _plus = bakery
    other, carl = partner_firm(
        name="Konkurrent Revision", owner_email="carl@konkurrent.dk", vat_id="DK33333331"
    )
    own = billing_partners.client_create(partner=other, name="Carls kunde", acting_user=carl, at=at(MAR_1))
    client.force_login(carl)
    slug, client_id = link.organization.slug, link.organization_id
    for path in (
        f"/o/{slug}/",
        f"/o/{slug}/subscription/status/",
        f"/o/{slug}/subscription/status/edit/",
        f"/o/{slug}/invoices/",
        f"/api/v1/organizations/{client_id}/subscription/",
        f"/api/v1/organizations/{other.pk}/clients/{client_id}/subscription/",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/o/{other.slug}/companies/{client_id}/manage/").status_code == 404
    assert (
        client.post(f"/api/v1/organizations/{other.pk}/clients/{client_id}/handover", {}).status_code == 404
    )
    assert client.get(f"/o/{own.organization.slug}/").status_code == 200  # its own client: yes
    assert client.get(f"/api/v1/organizations/{partner.pk}/clients/").status_code == 404


def test_what_the_partner_does_on_a_client_is_logged_under_the_partners_person(firm, bakery, client):
    partner, anna = firm
    link, team, plus = bakery
    client.force_login(anna)
    response = client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/")
    assert response.status_code == 302 and response["Location"] == f"/o/{link.organization.slug}/"
    overview = client.get(response["Location"]).content.decode()
    assert "Acting for <strong>Bageriet Hansen</strong> as <strong>Revisorhuset</strong>" in overview

    handover(link, plus, MAR_17, anna)

    entries = AuditLogEntry.objects.filter(organization=link.organization)
    by_action = {entry.action: entry.actor_label for entry in entries}
    assert by_action["partner.acting"] == "anna@revisorhuset.dk"
    assert by_action["partner.handover"] == "anna@revisorhuset.dk"
    assert by_action["subscription.create"] == "anna@revisorhuset.dk"
    history = [
        (e.kind, e.agreement, e.actor_label)
        for e in AgreementEvent.objects.filter(organization=link.organization)
    ]
    assert history == [
        ("handed_over", "external", "anna@revisorhuset.dk"),
        ("created", "internal", "anna@revisorhuset.dk"),
    ]


# ---------------------------------------------------------------------------
# Back to internal: asked by the client's owner, accepted by the partner


def test_back_to_internal_settles_the_same_way_in_reverse_once_the_partner_accepts(firm, bakery):
    partner, anna = firm
    link, team, plus = bakery
    handover(link, plus, MAR_17, anna)
    client_invoice = Invoice.objects.get(organization=link.organization)
    mette = add_member(link.organization, "mette@bageriet.dk", Role.OWNER, MAR_17)
    day = dt.date(2026, 3, 24)
    with pytest.raises(RuleViolation):  # the partner cannot ask in the client's name
        org_partners.handback_request(organization=link.organization, acting_user=anna, on=day, at=at(day))
    with pytest.raises(RuleViolation):  # and nothing happens without a request
        billing_partners.agreement_handback_accept(link=link, on=day, at=at(day), acting_user=anna)

    org_partners.handback_request(organization=link.organization, acting_user=mette, on=day, at=at(day))
    assert Invoice.objects.count() == 2  # nothing moves until the partner accepts
    settlement = billing_partners.agreement_handback_accept(link=link, on=day, at=at(day), acting_user=anna)

    # 24 March: 8 of 31 days left on Plus. Client: 450.00 × 8/31 = 116.13, 2 × 40.00 × 8/31 = 20.65;
    # subtotal 136.78, 25 % = 34.20 (34.195), total 170.98 credited to the client.
    assert settlement.credit_note.invoice == client_invoice
    assert money_of(settlement.credit_note) == (13678, 3420, 17098)
    assert credit_balance_minor(organization=link.organization, currency="EUR") == 17098
    # Partner: the same lines invoiced to it, paid from the 241.94 it was credited at the handover.
    invoice = settlement.invoice
    assert invoice.organization == partner and money_of(invoice) == (13678, 3420, 17098)
    assert (invoice.credit_applied_minor, invoice.amount_due_minor) == (17098, 0)
    link.refresh_from_db()
    assert (link.agreement, link.requested_agreement) == (Agreement.INTERNAL, "")
    assert org_partners.bill_to_for(link.organization) == partner


# ---------------------------------------------------------------------------
# The partner API


def test_the_partner_api_lists_creates_reads_and_hands_over(firm, bakery, client):
    partner, anna = firm
    link, team, plus = bakery
    client.force_login(anna)
    base = f"/api/v1/organizations/{partner.pk}/clients/"

    listed = client.get(base, {"q": "bager"}).json()
    assert listed["count"] == 1
    row = listed["results"][0]
    # The next invoice is the April renewal to the partner, with the seats in use (none yet, so
    # the 3 included): 300.00 + 25 % = 375.00.
    assert (row["name"], row["agreement"], row["plan"], row["next_invoice_total"]) == (
        "Bageriet Hansen",
        "internal",
        "Team",
        "375.00",
    )
    created = client.post(
        base, {"name": "Cykelsmeden", "country": "DK", "plan_code": "team-monthly"}, "application/json"
    )
    assert created.status_code == 201 and created.json()["agreement"] == "internal"
    row = created.json()
    assert (row["currency"], row["next_invoice_total"], row["next_invoice_total_minor"]) == (
        "EUR",
        "375.00",
        37500,
    )

    read = client.get(f"{base}{link.organization_id}/subscription/").json()
    assert (read["agreement"], read["bill_to"], read["subscription"]["plan"]["code"]) == (
        "internal",
        "Revisorhuset ApS",
        "team-monthly",
    )
    body = {
        "plan_code": "plus-monthly",
        "superuser_name": "Mette Hansen",
        "superuser_reference": "MH-1",
        "superuser_email": "mette@bageriet.dk",
    }
    preview = client.post(f"{base}{link.organization_id}/handover/preview", body, "application/json").json()
    assert [d["total_minor"] for d in preview["documents"]] == [24194, 32056]
    # Each amount's minor units beside its string and the currency; the lines' strings are for
    # people ('-€145.16'), the documents' in plain decimals.
    for document in preview["documents"]:
        assert document["currency"] == "EUR"
        assert document["total"] == format_amount(document["total_minor"], "EUR")
        assert document["amount_due"] == format_amount(document["amount_due_minor"], "EUR")
        for line in document["lines"]:
            assert line["currency"] == "EUR"
            assert line["amount"] == fmt.money(line["amount_minor"], "EUR", "en")
    assert (
        sum(line["amount_minor"] for line in preview["documents"][0]["lines"])
        == (preview["documents"][0]["subtotal_minor"])
    )
    stale = client.post(
        f"{base}{link.organization_id}/handover", {**body, "state_token": "0" * 32}, "application/json"
    )
    assert stale.status_code == 409 and stale.json()["code"] == "preview_stale"
    done = client.post(
        f"{base}{link.organization_id}/handover",
        {**body, "state_token": preview["state_token"]},
        "application/json",
    )
    assert done.status_code == 200
    assert done.json()["agreement"] == "external"
    assert done.json()["invoice"] == f"{link.organization.customer_code}-0001"


def test_a_preview_on_an_internal_client_shows_the_partners_documents(firm, bakery):
    """The engine's previews read back what was issued for the client's subscription, also when
    it is addressed to the partner, and the state token follows the partner's balance."""
    partner, anna = firm
    link, team, plus = bakery
    while Membership.objects.filter(organization=link.organization, removed_at__isnull=True).count() < 5:
        MembershipFactory(organization=link.organization)  # the 5 seats needed: a change carries those over
    preview = plan_change_preview(organization=link.organization, plan=plus, on=MAR_17, at=at(MAR_17))
    # Team -> Plus for 15/31: -145.16 - 48.39 + 217.74 + 38.71 = 62.90, DK 25 % = 15.73, due 78.63.
    assert [(d.type, d.subtotal_minor, d.total_minor) for d in preview.documents] == [("invoice", 6290, 7863)]
    token = state_token(organization=link.organization, on=MAR_17)
    CreditBalanceEntry.objects.create(
        organization=partner,
        currency="EUR",
        amount_minor=100,
        kind=CreditBalanceEntry.Kind.ADJUSTMENT,
        effective_on=MAR_17,
        created_at=at(MAR_17),
    )
    assert state_token(organization=link.organization, on=MAR_17) != token
