"""Dashboard test data: the seed 000 organization (Ecommerce Enterprise, €1,890/month, 10
seats included, limits 200M AI tokens / 100K documents / 5 agents), a catalogue to change
plan to, one person per role, and real history (invoices) made by the real services.

Dates follow the test's frozen clock (tests/dashboard/conftest.py), which the pages read too:
the subscription starts on the 1st of the month two months before, so it resets on the 1st
and has three monthly invoices.
"""

import datetime as dt
import uuid

from django.contrib.auth import get_user_model

from billing.domain.periods import add_months
from billing.models import Meter, Plan, PlanLimit
from billing.services import subscription_create, subscription_renew
from core import clock
from invoices.models import Invoice, Reason
from organizations import services as org_services
from organizations.models import Membership, Organization, Role
from seats import services as seat_services
from usage.models import ModelPrice
from usage.services import usage_record_batch

PASSWORD = "dashboard-password-2026"

CATALOGUE = [
    # code, name, base (minor), seat price, included, max seats, seat mode, order, rank, limits
    ("free-team", "Free team", 0, 0, 3, 3, "auto", 1, None, (1_000_000, 1_000, 1)),
    ("business-monthly", "Business", 49000, 2500, 5, 100, "auto", 3, 1, (50_000_000, 25_000, 5)),
    (
        "ecommerce-enterprise",
        "Ecommerce Enterprise",
        189000,
        3000,
        10,
        None,
        "manual",
        4,
        3,
        (200_000_000, 100_000, 5),
    ),
    ("scale-monthly", "Scale", 390000, 3000, 25, None, "manual", 5, 4, (1_000_000_000, 500_000, 20)),
]


def catalogue() -> dict[str, Plan]:
    plans = {}
    for code, name, base, seat, included, max_seats, mode, order, rank, limits in CATALOGUE:
        plan, _ = Plan.objects.update_or_create(
            code=code,
            defaults=dict(
                name=name,
                interval="month",
                base_price_minor=base,
                seat_price_minor=seat,
                included_seats=included,
                max_seats=max_seats,
                seat_mode=mode,
                seat_removal="credit" if mode == "auto" else "none",
                seat_invoicing="immediate",
                proration="day",
                display_order=order,
                recommended_rank=rank,
            ),
        )
        for meter, limit in zip((Meter.AI_TOKENS, Meter.DOCUMENTS, Meter.AGENTS), limits, strict=True):
            PlanLimit.objects.update_or_create(
                plan=plan, meter=meter, defaults={"limit": limit, "hard": True}
            )
        PlanLimit.objects.update_or_create(
            plan=plan, meter=Meter.SEATS, defaults={"limit": max_seats, "hard": True}
        )
        plans[code] = plan
    return plans


def user(email: str):
    User = get_user_model()
    person, created = User.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        person.set_password(PASSWORD)
        person.save(update_fields=["password"])
    return person


def at_nine(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


def build_organization(*, slug: str = "nordlys", members: int = 1, usage: bool = True):
    """Nordlys Commerce ApS (DK) on Ecommerce Enterprise since the 1st two months ago, with an
    owner, an admin, a finance person and `members` members, renewed up to today."""
    plans = catalogue()
    now = clock.now()
    today = clock.today_in("Europe/Copenhagen", at=now)
    start = add_months(today.replace(day=1), -2)
    owner = user(f"owner@{slug}.example")
    organization = org_services.organization_create(
        name="Nordlys Commerce ApS",
        owner=owner,
        at=at_nine(start),
        slug=slug,
        country="DK",
        vat_id="DK31415926",
        legal_name="Nordlys Commerce ApS",
        address_line1="Nørregade 1",
        postcode="1165",
        city="København K",
        billing_email=f"billing@{slug}.example",
        time_zone="Europe/Copenhagen",
    )
    subscription_create(
        organization=organization,
        plan=plans["ecommerce-enterprise"],
        start_on=start,
        at=at_nine(start),
        acting_user=owner,
    )
    people = {Role.ADMIN: [f"admin@{slug}.example"], Role.FINANCE: [f"finance@{slug}.example"]}
    people[Role.MEMBER] = [f"member{n or ''}@{slug}.example" for n in range(members)]
    for role, emails in people.items():
        seat_services.members_add(
            organization=organization,
            users=[user(email) for email in emails],
            role=role,
            on=start,
            at=at_nine(start),
            acting_user=owner,
        )
    subscription = organization.subscriptions.get()
    subscription_renew(subscription=subscription, on=today, at=now)
    if usage:
        # Per 1,000 tokens, in cents: 120,000 chat tokens cost €0.96, 30,000 search tokens €0.06.
        ModelPrice.objects.update_or_create(model="gpt-large", defaults={"price_per_1k_tokens_minor": "0.8"})
        ModelPrice.objects.update_or_create(model="gpt-small", defaults={"price_per_1k_tokens_minor": "0.2"})
        usage_record_batch(
            organization=organization,
            events=[
                _event("gpt-large", "chat", 120_000, now),
                _event("gpt-small", "search", 30_000, now),
                _event(None, None, 1_200, now, meter="documents"),
                _event(None, None, 1, now, meter="agents"),
            ],
            at=now,
        )
    organization.refresh_from_db()
    return organization, plans


def _event(model, action, quantity, when, *, meter="ai_tokens"):
    event = {
        "event_id": uuid.uuid4().hex,
        "meter": meter,
        "quantity": quantity,
        "timestamp": (when - dt.timedelta(minutes=1)).isoformat(),
    }
    if model or action:
        event["dimensions"] = {"model": model, "action": action}
    return event


def grow(organization: Organization, *, members: int, invoices: int) -> None:
    """Bulk rows, as many as a large customer has; the services are too slow for this size."""
    User = get_user_model()
    now = clock.now()
    users = User.objects.bulk_create(
        [
            User(
                username=f"bulk{n}@{organization.slug}.example", email=f"bulk{n}@{organization.slug}.example"
            )
            for n in range(members)
        ]
    )
    Membership.objects.bulk_create(
        [
            Membership(
                organization=organization, user=u, role=Role.MEMBER, joined_at=now, joined_on=now.date()
            )
            for u in users
        ]
    )
    template = Invoice.objects.filter(organization=organization).order_by("sequence").first()
    last = Invoice.objects.filter(organization=organization).order_by("-sequence").first().sequence
    rows = []
    for n in range(1, invoices + 1):
        fields = {f.attname: getattr(template, f.attname) for f in Invoice._meta.concrete_fields}
        fields.pop("id")
        sequence = last + n
        fields.update(
            sequence=sequence,
            number=f"{organization.customer_code}-{sequence:04d}",
            issued_on=template.issued_on - dt.timedelta(days=n),
            reason=Reason.SEAT_CHANGE,  # not once-per-period: any number may exist
        )
        rows.append(Invoice(**fields))
    Invoice.objects.bulk_create(rows)
