"""factory-boy factories shared by the whole suite."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from organizations.models import Membership, Organization, Role


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
    address = "Nørregade 1, 1165 København K"
    country = "DK"
    billing_email = factory.LazyAttribute(lambda o: f"billing@{o.slug}.example.com")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER
    joined_at = factory.LazyFunction(timezone.now)
    joined_on = factory.LazyFunction(lambda: dt.date.today())


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
