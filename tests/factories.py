"""factory-boy factories shared by the whole suite.

Times default to the test's frozen clock (tests/conftest.py::frozen_clock), never the real
one. Subscriptions and invoices are made through the real services, so seats, the seat
ledger, invoice numbers, totals and credit always agree; seat items are plain rows, for
tests that need a row in a given state.
"""

import datetime as dt
from fractions import Fraction

import factory
from django.contrib.auth import get_user_model

from billing.domain.lines import LineDraft
from billing.domain.periods import period_containing
from billing.services import invoice_issue, subscription_create
from core import clock
from invoices.models import Reason
from organizations import services as org_services
from organizations.models import Membership, Organization, Role


def _now() -> dt.datetime:
    return clock.now()  # looked up at each call: the test's frozen clock


def _today() -> dt.date:
    return clock.today_in("UTC")


def nine_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    password = factory.django.Password("correct-horse-battery")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} ApS")
    address_line1 = "Nørregade 1"
    postcode = "1165"
    city = "København K"
    country = "DK"
    billing_email = factory.LazyAttribute(lambda o: f"billing@{o.slug}.example.com")


class OwnedOrganizationFactory(factory.django.DjangoModelFactory):
    """An organization made by organizations.services.organization_create: `owner` is its first owner.

    Billing details (country, vat_id, billing_email, time_zone, ...) pass through to the service.
    """

    class Meta:
        model = Organization

    name = "Acme"
    owner = factory.SubFactory(UserFactory)
    at = factory.LazyFunction(_now)
    country = "DK"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return org_services.organization_create(**kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER
    joined_at = factory.LazyFunction(_now)
    joined_on = factory.LazyAttribute(
        lambda m: clock.organization_now_and_today(m.organization, at=m.joined_at)[1]
    )


class PlanFactory(factory.django.DjangoModelFactory):
    """A monthly team plan by day; override any billing-rules.md field."""

    class Meta:
        model = "billing.Plan"

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")
    currency = "EUR"
    interval = "month"
    base_price_minor = 2000
    seat_price_minor = 1000
    included_seats = 3
    max_seats = 50
    seat_mode = "auto"
    seat_removal = "credit"
    renewal_seats = "in_use"
    seat_invoicing = "immediate"
    proration = "day"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A subscription started by billing.services.subscription_create on `start_on` (default:
    the clock's date), with its seat item, ledger entry and first invoice.

    SubscriptionFactory(plan__included_seats=5, start_on=..., seats=..., committed_seats=...,
    acting_user=...); `at` defaults to 09:00 UTC on `start_on`.
    """

    class Meta:
        model = "billing.Subscription"

    organization = factory.SubFactory(OrganizationFactory)
    plan = factory.SubFactory(PlanFactory)
    start_on = factory.LazyFunction(_today)
    at = factory.LazyAttribute(lambda s: nine_utc(s.start_on))
    seats = 0
    committed_seats = 0
    acting_user = None

    @classmethod
    def _create(cls, model_class, **kwargs):
        return subscription_create(**kwargs)


class SubscriptionRowFactory(factory.django.DjangoModelFactory):
    """A bare Subscription row (no seat item, ledger or invoice), for tests that only read
    the subscription's plan and period. The period is the plan's interval from `anchor`."""

    class Meta:
        model = "billing.Subscription"

    organization = factory.SubFactory(OrganizationFactory)
    plan = factory.SubFactory(PlanFactory)
    anchor = factory.LazyFunction(_today)
    current_period_start = factory.LazyAttribute(lambda s: s.anchor)
    current_period_end = factory.LazyAttribute(
        lambda s: period_containing(s.anchor, s.plan.interval, s.current_period_start)[1]
    )
    created_at = factory.LazyFunction(_now)


class SeatItemFactory(factory.django.DjangoModelFactory):
    """A row of paid seats on one interval of a subscription (one per interval: a subscription
    made by SubscriptionFactory already has its plan's). The period runs one `interval` from
    `period_start` unless given."""

    class Meta:
        model = "billing.SeatItem"

    subscription = factory.SubFactory(SubscriptionRowFactory)
    organization = factory.SelfAttribute("subscription.organization")
    interval = "month"
    quantity = 1
    period_start = factory.LazyFunction(_today)
    period_end = factory.LazyAttribute(
        lambda i: period_containing(i.period_start, i.interval, i.period_start)[1]
    )


class LineDraftFactory(factory.Factory):
    """One line of a document to issue: by default €40.00 for a month from the clock's date."""

    class Meta:
        model = LineDraft

    kind = "base"
    description = "Support hours"
    quantity = 1
    unit_price_minor = 4_000
    fraction = Fraction(1)
    period_start = factory.LazyFunction(_today)
    period_end = factory.LazyAttribute(lambda line: line.period_start + dt.timedelta(days=30))


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An invoice of `organization`, issued by billing.services.invoice_issue (the next number,
    taxes, credit applied) on `issued_on` (default: the clock's date), of `lines` (default:
    one LineDraftFactory)."""

    class Meta:
        model = "invoices.Invoice"

    organization = factory.SubFactory(OrganizationFactory)
    bill_to = factory.SelfAttribute("organization")  # its own document, whoever bills it otherwise
    subscription = None
    reason = Reason.SEAT_CHANGE
    currency = "EUR"
    issued_on = factory.LazyFunction(_today)
    at = factory.LazyFunction(_now)
    lines = factory.LazyAttribute(lambda i: [LineDraftFactory(period_start=i.issued_on)])

    @classmethod
    def _create(cls, model_class, **kwargs):
        return invoice_issue(**kwargs)
