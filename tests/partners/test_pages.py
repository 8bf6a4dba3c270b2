"""The partner pages without a browser: Companies (search, paging, next invoice), a new company,
the seed's handover steps through the forms, the client owner's requests, the API's roles."""

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from invoices.models import CreditNote, Invoice
from organizations import partners as org_partners
from organizations import services as org_services
from organizations.models import Agreement, AgreementEvent, PartnerLink, Role
from partners import services as billing_partners
from tests.factories import UserFactory

from .support import add_member, at, monthly_plans, partner_firm
from .support import client as make_client

pytestmark = pytest.mark.django_db

MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)


@pytest.fixture
def firm():
    return partner_firm()


@pytest.fixture
def plans():
    return monthly_plans()


def test_companies_lists_searches_and_pages(firm, plans, client):
    partner, anna = firm
    team, _plus = plans
    make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    for n in range(21):
        make_client(partner, anna, name=f"Klient {n:02d}", on=MAR_1)
    client.force_login(anna)

    first = client.get(f"/o/{partner.slug}/companies/").content.decode()
    assert "Page 1 of 2" in first and "Bageriet Hansen" in first and "Klient 18" in first
    assert "Klient 19" not in first
    assert "Klient 20" in client.get(f"/o/{partner.slug}/companies/?page=2").content.decode()
    found = client.get(f"/o/{partner.slug}/companies/", {"q": "bager"}).content.decode()
    assert "Bageriet Hansen" in found and "Klient" not in found
    with_nul = client.get(f"/o/{partner.slug}/companies/", {"q": "bag\u0000er"})
    assert with_nul.status_code == 200 and "Bageriet Hansen" in with_nul.content.decode()
    # Plan, seats used, agreement, status, next renewal and the next invoice (the April
    # renewal with the seats in use, none yet: 300.00 + 25 % = 375.00).
    for text in ("Team", "0 of 5", "Internal (the partner pays)", "Active", "1 Apr 2026", "€375.00"):
        assert text in found, text


def test_companies_flags_an_overdue_client(firm, plans, client):
    partner, anna = firm
    team, _plus = plans
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    Invoice.objects.filter(serviced_organization=link.organization).update(status="uncollectible")
    client.force_login(anna)
    row = billing_partners.companies_page(partner=partner, at=at(MAR_17)).rows[0]
    assert row.overdue
    assert "Overdue" in client.get(f"/o/{partner.slug}/companies/").content.decode()


def test_companies_is_for_a_partners_owners_and_admins_only(firm, client):
    partner, anna = firm
    member = add_member(partner, "member@revisorhuset.dk", Role.MEMBER, MAR_1)
    admin = add_member(partner, "bo@revisorhuset.dk", Role.ADMIN, MAR_1)
    client.force_login(member)
    assert client.get(f"/o/{partner.slug}/companies/").status_code == 403
    client.force_login(admin)
    assert client.get(f"/o/{partner.slug}/companies/").status_code == 200
    PartnerLink.objects.all().delete()
    partner.is_partner = False
    partner.save()
    client.force_login(anna)
    assert client.get(f"/o/{partner.slug}/companies/").status_code == 404  # not a partner


def test_a_partner_creates_a_client_that_it_pays_for(firm, plans, client):
    partner, anna = firm
    client.force_login(anna)
    response = client.post(
        f"/o/{partner.slug}/companies/new/",
        {"name": "Cykelsmeden", "country": "dk", "language": "da", "plan": "team-monthly", "seats": "4"},
    )
    assert response.status_code == 302
    link = PartnerLink.objects.get(organization__name="Cykelsmeden")
    assert (link.partner, link.agreement, link.organization.country) == (partner, "internal", "DK")
    assert not link.organization.memberships.exists()
    invoice = Invoice.objects.get(serviced_organization=link.organization)
    # Team from 17 March with 4 seats: 300.00 + 1 × 50.00, invoiced to the partner.
    assert invoice.organization == partner and invoice.subtotal_minor == 35000


def test_the_seeds_steps_through_the_forms(firm, plans, client, django_capture_on_commit_callbacks):
    """Companies, Manage, Subscription status, Edit, pick the subscription, fill the superuser's
    name, ID and e-mail, review, OK."""
    partner, anna = firm
    team, plus = plans
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5, language="da")
    slug = link.organization.slug
    client.force_login(anna)

    assert "Manage Bageriet Hansen" in client.get(f"/o/{partner.slug}/companies/").content.decode()
    overview = client.post(f"/o/{partner.slug}/companies/{link.organization_id}/manage/", follow=True)
    assert "Acting for <strong>Bageriet Hansen</strong>" in overview.content.decode()
    status = client.get(f"/o/{slug}/subscription/status/").content.decode()
    assert "Internal (the partner pays)" in status and "Revisorhuset ApS" in status and ">Edit</a>" in status
    form = client.get(f"/o/{slug}/subscription/status/edit/").content.decode()
    assert 'value="plus-monthly"' in form and "Superuser ID" in form
    fields = {
        "plan": "plus-monthly",
        "superuser_name": "Mette Hansen",
        "superuser_reference": "MH-1",
        "superuser_email": "mette@bageriet.dk",
    }
    review = client.post(f"/o/{slug}/subscription/status/edit/", {**fields, "action": "review"})
    page = review.content.decode()
    assert "Credit note to Revisorhuset ApS" in page and "€241.94" in page
    assert "Invoice to Bageriet Hansen" in page and "€320.56" in page
    assert not CreditNote.objects.exists()
    token = review.context["form"]["state_token"].value()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            f"/o/{slug}/subscription/status/edit/", {**fields, "state_token": token, "action": "confirm"}
        )
    assert done.status_code == 302
    assert CreditNote.objects.get().total_minor == 24194
    assert Invoice.objects.get(organization=link.organization).total_minor == 32056
    assert any(m.to == ["mette@bageriet.dk"] and "aftale" in m.subject for m in mail.outbox)
    after = client.get(f"/o/{slug}/subscription/status/").content.decode()
    assert "External (the client pays)" in after and "Handed over to the client" in after
    assert "mette@bageriet.dk has not logged in yet" in after


def test_an_invalid_superuser_is_shown_next_to_the_field(firm, plans, client):
    partner, anna = firm
    team, plus = plans
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    client.force_login(anna)
    response = client.post(
        f"/o/{link.organization.slug}/subscription/status/edit/",
        {
            "plan": "plus-monthly",
            "superuser_name": "",
            "superuser_email": "not-an-address",
            "action": "review",
        },
    )
    assert response.status_code == 200 and response.context["form"].errors.keys() >= {"superuser_name"}
    assert not CreditNote.objects.exists()


def test_the_clients_owner_asks_to_hand_billing_back_and_the_partner_accepts(firm, plans, client):
    partner, anna = firm
    team, plus = plans
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    billing_partners.agreement_handover(
        link=link,
        plan=plus,
        superuser_name="Mette",
        superuser_reference="",
        superuser_email="mette@bageriet.dk",
        on=MAR_17,
        at=at(MAR_17),
        acting_user=anna,
    )
    mette = add_member(link.organization, "mette@bageriet.dk", Role.OWNER, MAR_17)
    client.force_login(mette)
    status = client.get(f"/o/{link.organization.slug}/subscription/status/").content.decode()
    assert "Hand billing to my accountant" in status
    client.post(f"/o/{link.organization.slug}/subscription/status/handback/")
    link.refresh_from_db()
    assert link.requested_agreement == Agreement.INTERNAL

    client.force_login(anna)
    assert "Asks you to pay" in client.get(f"/o/{partner.slug}/companies/").content.decode()
    review = client.get(f"/o/{partner.slug}/companies/{link.organization_id}/handback/")
    assert "Credit note to Bageriet Hansen" in review.content.decode()
    token = review.context["preview"].token
    client.post(
        f"/o/{partner.slug}/companies/{link.organization_id}/handback/",
        {"action": "accept", "state_token": token},
    )
    link.refresh_from_db()
    assert link.agreement == Agreement.INTERNAL
    assert AgreementEvent.objects.filter(organization=link.organization).first().kind == "handed_back"
    # The same day as the handover: the client's whole invoice comes back as credit.
    note = CreditNote.objects.get(organization=link.organization)
    assert note.total_minor == 32056


def test_the_partner_api_is_for_a_partners_owners_and_admins(firm, plans, client):
    partner, anna = firm
    team, _plus = plans
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    base = f"/api/v1/organizations/{partner.pk}/clients/"
    for role, status in ((Role.FINANCE, 403), (Role.MEMBER, 403), (Role.ADMIN, 200)):
        client.force_login(add_member(partner, f"{role}@revisorhuset.dk", role, MAR_1))
        assert client.get(base).status_code == status, role
        assert client.get(f"{base}{link.organization_id}/subscription/").status_code == status, role
    # The client's own API answers the partner's people too, as its owner while the partner pays.
    client.force_login(anna)
    assert client.get(f"/api/v1/organizations/{link.organization_id}/subscription/").status_code == 200
    # An acting partner reaches no partner endpoint through the client.
    assert client.get(f"/api/v1/organizations/{link.organization_id}/clients/").status_code == 404
    assert org_partners.bill_to_for(link.organization) == partner


def test_staff_make_an_organization_a_partner_with_a_command(client):
    owner = UserFactory()
    firm = org_services.organization_create(name="Ny Revision", owner=owner, at=at(MAR_1))
    out = StringIO()
    call_command("partner_enable", firm.slug, stdout=out)
    firm.refresh_from_db()
    assert firm.is_partner and "/companies/" in out.getvalue()
    client.force_login(owner)
    assert client.get(f"/o/{firm.slug}/companies/").status_code == 200
