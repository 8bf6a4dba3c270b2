"""Demo data for `make run`: one organization per help-center story, members of every role,
and months of billing history made by the real services on a moving clock."""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from billing.domain.periods import add_months
from billing.models import Meter, Plan, PlanLimit, PlanSeatPrice, PlanUnitType, Subscription
from billing.services import subscription_create, subscription_renew
from billing.unit_services import units_create
from core import clock
from invoices.exchange_rates import exchange_rates_import
from invoices.models import Invoice
from organizations import services as org_services
from organizations.models import Organization, Role
from organizations.partners import partner_enable
from partners.services import client_create
from payments.charging import invoice_mark_paid
from seats import services as seat_services
from usage.models import ModelPrice
from usage.services import usage_record_batch

DEMO_PASSWORD = "demo-password-2026"
# The operator: our own staff, in the Django admin (/admin/): plans, prices, marking transfers paid.
OPERATOR_EMAIL = "operator@seatbill.example"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    organization: str


PLANS = [
    dict(
        code="free-team",
        name="Free team",
        interval="month",
        base_price_minor=0,
        seat_price_minor=0,
        included_seats=3,
        max_seats=3,
        seat_mode="auto",
        seat_removal="none",
        renewal_seats="in_use",
        seat_invoicing="immediate",
        proration="day",
        display_order=1,
        recommended_rank=None,
        limits={"ai_tokens": (1_000_000, True), "documents": (1_000, True), "agents": (1, True)},
    ),
    dict(
        code="pro-team",
        name="Pro team",
        interval="year",
        base_price_minor=24000,
        seat_price_minor=12000,
        included_seats=3,
        max_seats=50,
        seat_mode="auto",
        seat_removal="credit",
        renewal_seats="in_use",
        seat_invoicing="next_day",
        proration="day",
        display_order=2,
        recommended_rank=2,
        seat_intervals={"year": 12000, "month": 1200, "week": 350},
        limits={"ai_tokens": (20_000_000, False), "documents": (10_000, True), "agents": (3, True)},
    ),
    dict(
        code="max-team",
        name="Max team",
        interval="year",
        base_price_minor=48000,
        seat_price_minor=24000,
        included_seats=3,
        max_seats=50,
        seat_mode="auto",
        seat_removal="credit",
        renewal_seats="in_use",
        seat_invoicing="next_day",
        proration="day",
        display_order=3,
        recommended_rank=None,
        seat_intervals={"year": 24000, "month": 2400, "week": 700},
        limits={"ai_tokens": (60_000_000, False), "documents": (30_000, True), "agents": (6, True)},
    ),
    dict(
        code="business-monthly",
        name="Business",
        interval="month",
        base_price_minor=49000,
        seat_price_minor=2500,
        included_seats=5,
        max_seats=100,
        seat_mode="auto",
        seat_removal="credit",
        renewal_seats="in_use",
        seat_invoicing="immediate",
        proration="day",
        display_order=4,
        recommended_rank=1,
        limits={"ai_tokens": (50_000_000, True), "documents": (25_000, True), "agents": (5, True)},
    ),
    dict(
        code="ecommerce-enterprise",
        name="Ecommerce Enterprise",
        interval="month",
        base_price_minor=189000,
        seat_price_minor=3000,
        included_seats=10,
        max_seats=None,
        seat_mode="manual",
        seat_removal="none",
        renewal_seats="in_use",
        seat_invoicing="immediate",
        proration="day",
        display_order=5,
        recommended_rank=3,
        limits={"ai_tokens": (200_000_000, True), "documents": (100_000, True), "agents": (5, True)},
    ),
    dict(
        code="work-annual",
        name="Work (annual contract)",
        interval="year",
        base_price_minor=0,
        seat_price_minor=30000,
        included_seats=0,
        max_seats=None,
        seat_mode="manual",
        seat_removal="none",
        renewal_seats="in_use",
        seat_invoicing="immediate",
        proration="month",
        display_order=6,
        recommended_rank=None,
        is_public=False,
        limits={},
    ),
    dict(
        code="phone-monthly",
        name="Phone (monthly, minimum commitment)",
        interval="month",
        base_price_minor=0,
        seat_price_minor=3000,
        included_seats=0,
        max_seats=None,
        seat_mode="auto",
        seat_removal="none",
        renewal_seats="in_use",
        seat_invoicing="immediate",
        proration="day",
        display_order=7,
        recommended_rank=None,
        is_public=False,
        limits={},
        unit_types={
            "phone_numbers": dict(name="Phone numbers", unit_price_minor=600, committed=2, max_units=10)
        },
    ),
]


def demo_catalogue() -> dict[str, Plan]:
    """The demo's plans (PLANS), created or brought up to date."""
    plans = {}
    for spec in PLANS:
        spec = dict(spec)
        limits = spec.pop("limits")
        intervals = spec.pop("seat_intervals", {})
        unit_types = spec.pop("unit_types", {})
        plan, _ = Plan.objects.update_or_create(code=spec.pop("code"), defaults=spec)
        for code, fields in unit_types.items():
            PlanUnitType.objects.update_or_create(plan=plan, code=code, defaults=fields)
        for interval, price in intervals.items():
            PlanSeatPrice.objects.update_or_create(
                plan=plan, interval=interval, defaults={"unit_price_minor": price}
            )
        for meter, (limit, hard) in limits.items():
            PlanLimit.objects.update_or_create(
                plan=plan, meter=meter, defaults={"limit": limit, "hard": hard}
            )
        PlanLimit.objects.get_or_create(
            plan=plan, meter=Meter.SEATS, defaults={"limit": plan.max_seats, "hard": True}
        )
        plans[plan.code] = plan
    return plans


def _user(email: str):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


STORIES = [
    # slug, name, country, vat, plan, months ago, seats, committed, people {role: count}, story
    (
        "nordlys",
        "Nordlys Commerce ApS",
        "DK",
        "DK31415926",
        "ecommerce-enterprise",
        5,
        10,
        0,
        {"admin": 1, "finance": 1, "member": 4},
        "Seed 000: the organization overview of an Ecommerce Enterprise plan.",
    ),
    (
        "rheinfon",
        "Rheinfon GmbH",
        "DE",
        "DE811907980",
        "phone-monthly",
        3,
        5,
        5,
        {"admin": 1, "finance": 1, "member": 1},
        "Seed 001: units included in the plan versus created.",
    ),
    (
        "aarhus-data",
        "Aarhus Data ApS",
        "DK",
        "DK27182828",
        "work-annual",
        10,
        20,
        20,
        {"admin": 1, "finance": 1, "member": 15},
        "Seed 002: seats on an annual contract.",
    ),
    (
        "revisor",
        "Revisor & Partnere",
        "DK",
        "DK16180335",
        "business-monthly",
        4,
        5,
        0,
        {"admin": 1, "finance": 1},
        "Seed 003: an accountant's firm managing client companies.",
    ),
    (
        "pixel-team",
        "Pixel Team AS",
        "NO",
        "NO987654325MVA",
        "pro-team",
        2,
        3,
        0,
        {"admin": 1, "finance": 1, "member": 2},
        "Seed 004: a team with free seats and per-member intervals.",
    ),
]


def _phone_numbers(*, organization: Organization, owner, start: dt.date) -> None:
    """Seed 001: two numbers within the commitment at the start, a third bought a month later
    (prorated, invoiced at once); the owner can add more beyond the commitment, delete and reuse."""
    for on, labels in (
        (start, ["+49 221 555 0101", "+49 221 555 0102"]),
        (add_months(start, 1) + dt.timedelta(days=9), ["+49 221 555 0103"]),
    ):
        units_create(
            organization=organization,
            code="phone_numbers",
            labels=labels,
            on=on,
            at=_at(on),
            acting_user=owner,
        )


# Seed 003's clients: (name, months ago, day of the month they started). Started months ago
# and mid-month, so the current period is under way: a handover today settles by day.
PARTNER_CLIENTS = [("Bageriet Hansen ApS", 3, 15), ("Tømrer Jensen ApS", 2, 1)]


def _partner_clients(*, partner: Organization, owner, plan: Plan, today: dt.date) -> None:
    """Seed 003: the accountant's firm runs two client companies on internal agreements, each
    with months of invoices to the firm (renewed by the engine up to today)."""
    first = min(_months_before(today, months, day) for _name, months, day in PARTNER_CLIENTS)
    partner_enable(organization=partner, at=_at(first))
    for name, months, day in PARTNER_CLIENTS:
        start = _months_before(today, months, day)
        link = client_create(
            partner=partner,
            name=name,
            acting_user=owner,
            at=_at(start),
            plan=plan,
            seats=5,
            country="DK",
            legal_name=name,
            address_line1="Demo street 2",
            postcode="8000",
            city="Aarhus C",
        )
        for subscription in link.organization.subscriptions.all():
            subscription_renew(subscription=subscription, on=today, at=clock.now())


def _months_before(today: dt.date, months: int, day: int) -> dt.date:
    return add_months(today.replace(day=1), -months).replace(day=day)


# Usage: AI model prices and months of reported usage --------------------------------------------

# The operator's price list: minor units (cents) per 1,000 tokens, per model and currency.
MODEL_PRICES = {
    ("nova-large", "EUR"): Decimal("0.5"),
    ("nova-small", "EUR"): Decimal("0.06"),
    ("nova-vision", "EUR"): Decimal("0.9"),
    ("nova-large", "DKK"): Decimal("3.75"),
    ("nova-small", "DKK"): Decimal("0.45"),
    ("nova-vision", "DKK"): Decimal("6.7"),
}
# How each model's tokens are spread over the actions the SaaS reports (weights).
MODELS = [("nova-small", 5), ("nova-large", 3), ("nova-vision", 1)]
ACTIONS = [("chat", 6), ("summarize", 3), ("extract", 2), ("classify", 2), ("translate", 1)]
# slug -> (AI tokens on a weekday at the end of the history, documents, agents). Growth over
# the months and quiet weekends are added; the meters land at different colours.
USAGE = {
    "nordlys": (4_000_000, 3_400, 3),
    "aarhus-data": (900_000, 0, 0),
    "revisor": (1_300_000, 800, 2),
    "pixel-team": (140_000, 2_100, 2),
}
USAGE_MONTHS = 6  # at most this much history of usage events


def _model_prices() -> None:
    for (model, currency), price in MODEL_PRICES.items():
        ModelPrice.objects.update_or_create(
            model=model, currency=currency, defaults={"price_per_1k_tokens_minor": price}
        )


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in choices], weights=[weight for _, weight in choices])[0]


def _day_events(
    *, slug: str, day: dt.date, until: dt.datetime, tokens: int, rng: random.Random
) -> list[dict]:
    """One day's AI token events (about 40), as the SaaS would report them, before `until`."""
    events = []
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)
    seconds = int(min((until - start).total_seconds(), 86_400)) - 60
    if seconds <= 0:
        return events
    count = 40
    for n in range(count):
        quantity = max(1, int(tokens / count * rng.uniform(0.3, 1.7)))
        events.append(
            {
                "event_id": f"demo-{slug}-{day.isoformat()}-{n}",
                "meter": "ai_tokens",
                "quantity": quantity,
                "timestamp": (start + dt.timedelta(seconds=rng.randrange(seconds))).isoformat(),
                "dimensions": {"model": _weighted(rng, MODELS), "action": _weighted(rng, ACTIONS)},
            }
        )
    return events


def _count_event(slug: str, meter: str, day: dt.date, quantity: int) -> dict:
    return {
        "event_id": f"demo-{slug}-{meter}-{day.isoformat()}",
        "meter": meter,
        "quantity": quantity,
        "timestamp": dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.UTC).isoformat(),
    }


def _usage_history(*, organization: Organization, start: dt.date, today: dt.date) -> int:
    """Months of usage reported through the ingestion service, one batch per day on a moving
    clock (each batch as the SaaS would have sent it that evening); returns the events accepted."""
    profile = USAGE.get(organization.slug)
    if profile is None:
        return 0
    daily_tokens, documents, agents = profile
    rng = random.Random(organization.slug)
    first = max(start, add_months(today, -USAGE_MONTHS))
    days = (today - first).days + 1
    accepted = 0
    for n in range(days):
        day = first + dt.timedelta(days=n)
        until = clock.now() if day == today else _at(day) + dt.timedelta(hours=14)  # 23:00 UTC
        growth = 0.6 + 0.4 * (n + 1) / days
        quiet = 0.25 if day.weekday() >= 5 else 1.0
        events = _day_events(
            slug=organization.slug, day=day, until=until, tokens=int(daily_tokens * growth * quiet), rng=rng
        )
        if n == 0:  # the documents and agents the SaaS had when the history starts
            events += [
                _count_event(organization.slug, meter, day, count // 2 or count)
                for meter, count in (("documents", documents), ("agents", agents))
                if count
            ]
        elif n == days // 2:
            events += [
                _count_event(organization.slug, meter, day, count - (count // 2 or count))
                for meter, count in (("documents", documents), ("agents", agents))
                if count - (count // 2 or count)
            ]
        if events:
            results = usage_record_batch(organization=organization, events=events, at=until)
            accepted += sum(result.status == "accepted" for result in results)
    return accepted


# Operator and payments --------------------------------------------------------------------------


def _operator():
    """The operator's staff login for the Django admin."""
    user = _user(OPERATOR_EMAIL)
    if not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def _paid_by_transfer(*, organization: Organization, operator, keep_open: int) -> None:
    """Bank transfers received for every open invoice but the newest `keep_open`, recorded by
    the operator as staff do in the admin: the demo shows paid and unpaid invoices."""
    open_invoices = list(
        Invoice.objects.filter(organization=organization, status=Invoice.Status.OPEN).order_by(
            "-issued_on", "-number"
        )
    )
    for invoice in open_invoices[keep_open:]:
        invoice_mark_paid(
            invoice=invoice, at=clock.now(), acting_user=operator, reference="Demo bank transfer"
        )


# Illustrative euro rates (1 EUR = ...) for the demo's invoices, whose VAT the Danish seller
# also states in DKK (art. 230): not the ECB's. A real installation loads the ECB's file
# (`manage.py exchange_rates_import eurofxref-hist.csv`, docs/billing.md).
DEMO_EURO_RATES = {
    "USD": "1.0850", "DKK": "7.4600", "GBP": "0.85000", "SEK": "11.2000", "NOK": "11.5000", "CHF": "0.9400",
}  # fmt: skip
DEMO_RATES_SOURCE = "demo: illustrative rates, not the ECB's"


def _demo_rates(*, today: dt.date) -> None:
    """One day of DEMO_EURO_RATES on the first of each month of the demo's history and today,
    in the ECB's historical file format, through the operator's import."""
    first = add_months(today.replace(day=1), -max(story[5] for story in STORIES) - 1)
    days, day = {today}, first
    while day <= today:
        days.add(day)
        day = add_months(day, 1)
    lines = ["Date," + ",".join(DEMO_EURO_RATES) + ","]
    lines += [f"{day.isoformat()}," + ",".join(DEMO_EURO_RATES.values()) + "," for day in sorted(days)]
    exchange_rates_import(text="\n".join(lines), source=DEMO_RATES_SOURCE, at=clock.now())


APP_STORE_TEAM = ("fjord-mobile", "Fjord Mobile AS")


def _app_store_team(*, plans: dict[str, Plan], today: dt.date, progress) -> list[DemoLogin]:
    """Seed 004's mobile note: a Pro team subscribed from the app store, at its 3-member cap
    (the owner and 2 others); adding a 4th, or upgrading, goes through the switch to web."""
    slug, name = APP_STORE_TEAM
    owner = _user(f"owner@{slug}.example")
    if not Organization.objects.filter(slug=slug).exists():
        progress(f"  {name}: Seed 004: a team subscribed from the mobile app store (3 members at most).")
        start = add_months(today.replace(day=1), -1)
        organization = org_services.organization_create(
            name=name, owner=owner, at=_at(start), slug=slug, country="NO", description="Seed 004: app store."
        )
        subscription = subscription_create(
            organization=organization,
            plan=plans["pro-team"],
            start_on=start,
            at=_at(start),
            acting_user=owner,
            source=Subscription.Source.APP_STORE,
        )
        seat_services.members_add(
            organization=organization,
            users=[_user(f"member{n or ''}@{slug}.example") for n in range(2)],
            role=Role.MEMBER,
            on=start,
            at=_at(start),
            acting_user=owner,
        )
        subscription_renew(subscription=subscription, on=today, at=clock.now())
    return [DemoLogin(owner.email, "owner", name), DemoLogin(f"member@{slug}.example", "member", name)]


@transaction.atomic
def seed_demo(*, today: dt.date | None = None, progress=print) -> list[DemoLogin]:
    """Create (once) the demo catalogue and organizations; return the logins to print."""
    today = today or clock.today_in("UTC")
    _demo_rates(today=today)
    plans = demo_catalogue()
    _model_prices()
    operator = _operator()
    logins: list[DemoLogin] = [DemoLogin(OPERATOR_EMAIL, "staff", "Django admin: /admin/")]
    for slug, name, country, vat_id, plan_code, months_ago, seats, committed, people, story in STORIES:
        owner = _user(f"owner@{slug}.example")
        logins.append(DemoLogin(owner.email, "owner", name))
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            progress(f"  {name}: {story}")
            start = add_months(today.replace(day=1), -months_ago)
            organization = _story_organization(
                slug=slug,
                name=name,
                country=country,
                vat_id=vat_id,
                plan=plans[plan_code],
                start=start,
                today=today,
                seats=seats,
                committed=committed,
                people=people,
                story=story,
                owner=owner,
            )
            if slug == "revisor":
                _partner_clients(
                    partner=organization, owner=owner, plan=plans["business-monthly"], today=today
                )
            _usage_history(organization=organization, start=start, today=today)
            _paid_by_transfer(
                organization=organization, operator=operator, keep_open=1 if slug != "rheinfon" else 2
            )
        for role in people:
            logins.append(DemoLogin(f"{role}@{slug}.example", role, name))
    logins += _app_store_team(plans=plans, today=today, progress=progress)
    return logins


def _story_organization(
    *, slug, name, country, vat_id, plan: Plan, start, today, seats, committed, people, story, owner
) -> Organization:
    """One story's organization from `start`: its subscription, members, and renewals to today."""
    organization = org_services.organization_create(
        name=name,
        owner=owner,
        at=_at(start),
        slug=slug,
        country=country,
        vat_id=vat_id,
        legal_name=name,
        address_line1="Demo street 1",
        postcode="1165",
        city="København K",
        billing_email=f"billing@{slug}.example",
        description=story,
    )
    subscription = subscription_create(
        organization=organization,
        plan=plan,
        start_on=start,
        at=_at(start),
        seats=seats,
        committed_seats=committed,
        acting_user=owner,
    )
    for role, count in people.items():
        users = [_user(f"{role}{n or ''}@{slug}.example") for n in range(count)]
        seat_services.members_add(
            organization=organization,
            users=users,
            role=role,
            on=start,
            at=_at(start),
            acting_user=owner,
        )
    if plan.code == "pro-team":
        joined = add_months(start, 1)
        seat_services.members_add(
            organization=organization,
            users=[_user(f"weekly@{slug}.example")],
            role=Role.MEMBER,
            on=joined,
            at=_at(joined),
            acting_user=owner,
            seat_interval="week",
        )
    if plan.code == "phone-monthly":
        _phone_numbers(organization=organization, owner=owner, start=start)
    subscription_renew(subscription=subscription, on=today, at=clock.now())
    return organization
