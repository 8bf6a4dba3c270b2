"""Partner test data (seed 003): an accountant's firm, its people, plans and client companies,
made by the real services.

Revisorhuset ApS is a Danish partner (25 % VAT, VAT ID DK11111111); Anna is its owner and
Bo an admin. Its clients start on an internal agreement: their invoices are addressed to
Revisorhuset. Another firm (Konkurrent Revision) has its own owner, Carl.
"""

import datetime as dt

from organizations import partners as org_partners
from organizations import services as org_services
from organizations.models import Role
from partners import services as billing_partners
from tests.factories import PlanFactory, UserFactory

PASSWORD = "partner-password-2026"


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=dt.UTC)


def person(email: str, first_name: str = "", last_name: str = ""):
    user = UserFactory(username=email, email=email, first_name=first_name, last_name=last_name)
    user.set_password(PASSWORD)
    user.save()
    return user


def partner_firm(
    *, name="Revisorhuset", owner_email="anna@revisorhuset.dk", on=dt.date(2026, 1, 1), vat_id="DK11111114"
):
    owner = person(owner_email, "Anna", "Revisor")
    firm = org_services.organization_create(
        name=name,
        owner=owner,
        at=at(on),
        legal_name=f"{name} ApS",
        address_line1="Revisorvej 1",
        postcode="8000",
        city="Aarhus C",
        country="DK",
        vat_id=vat_id,
        billing_email=f"faktura@{owner_email.split('@')[1]}",
        language="da",
    )
    org_partners.partner_enable(organization=firm, at=at(on))
    return firm, owner


def add_member(organization, email: str, role: str, on: dt.date):
    user = person(email)
    org_services.membership_create(organization=organization, user=user, role=role, at=at(on), on=on)
    return user


def monthly_plans():
    """Team (300.00 + 50.00 a seat beyond 3) and Plus (450.00 + 40.00 a seat beyond 3), monthly by day."""
    team = PlanFactory(
        code="team-monthly", name="Team", base_price_minor=30000, seat_price_minor=5000, included_seats=3
    )
    plus = PlanFactory(
        code="plus-monthly", name="Plus", base_price_minor=45000, seat_price_minor=4000, included_seats=3
    )
    return team, plus


def yearly_plans():
    """Pro yearly (1,200.00 + 100.00 a seat beyond 2) and Pro monthly (150.00 + 10.00 a seat beyond 2)."""
    yearly = PlanFactory(
        code="pro-yearly",
        name="Pro yearly",
        interval="year",
        base_price_minor=120000,
        seat_price_minor=10000,
        included_seats=2,
    )
    monthly = PlanFactory(
        code="pro-monthly",
        name="Pro monthly",
        base_price_minor=15000,
        seat_price_minor=1000,
        included_seats=2,
    )
    return yearly, monthly


def client(firm, actor, *, name: str, on: dt.date, plan=None, seats: int = 0, **details):
    link = billing_partners.client_create(
        partner=firm, name=name, acting_user=actor, at=at(on), plan=plan, seats=seats, **details
    )
    return link


__all__ = [
    "Role",
    "PASSWORD",
    "at",
    "person",
    "partner_firm",
    "add_member",
    "monthly_plans",
    "yearly_plans",
    "client",
]
