"""Each event type comes from the service where it happens, once per committed change, and
reaches an endpoint that picked it (a real receiver on loopback)."""

import datetime as dt
import json

import pytest

from billing import services as billing
from invoices.models import CreditNote, Invoice
from organizations.models import Role
from payments import charging, dunning
from payments.models import PaymentAttempt
from seats import services as seats
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    PlanFactory,
    SubscriptionFactory,
    UserFactory,
)
from webhooks import services
from webhooks.models import EventType, WebhookEvent

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ON = AT.date()


@pytest.fixture
def clock_start():
    return AT


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def organization(owner):
    organization = OrganizationFactory()
    MembershipFactory(organization=organization, user=owner, role=Role.OWNER)
    return organization


@pytest.fixture
def hooked(organization, receiver):
    """An endpoint of `organization` for every event type; `hooked()` -> the types received since
    the last call, in order."""
    services.endpoint_create(organization=organization, url=receiver.url, events=EventType.values, at=AT)
    seen = [0]

    def received():
        new = receiver.received[seen[0] :]
        seen[0] = len(receiver.received)
        return [json.loads(r.body)["type"] for r in new]

    return received


def bodies(receiver, type):
    return [
        json.loads(r.body)["data"]["object"] for r in receiver.received if json.loads(r.body)["type"] == type
    ]


def test_billing_changes_announce_their_events_once(
    organization, owner, hooked, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    plan = PlanFactory(included_seats=1, seat_removal="credit")
    bigger = PlanFactory(included_seats=1, base_price_minor=9000)
    with capture(execute=True):
        subscription = SubscriptionFactory(organization=organization, plan=plan, start_on=ON)
    assert hooked() == ["invoice.issued"]

    with capture(execute=True):
        seats.members_add(
            organization=organization, users=[UserFactory(), UserFactory()], role=Role.MEMBER, on=ON, at=AT
        )
    assert sorted(hooked()) == ["invoice.issued", "seat.added"]
    (added,) = bodies(receiver, "seat.added")
    assert (added["delta"], added["quantity_after"], added["total_seats_after"]) == (2, 2, 3)

    frozen_clock.advance(days=3)
    leaving = organization.memberships.filter(role=Role.MEMBER).first()
    with capture(execute=True):
        seats.members_remove(
            organization=organization, memberships=[leaving], on=frozen_clock.today(), at=frozen_clock.at
        )
    assert sorted(hooked()) == ["credit_note.issued", "seat.removed"]
    (removed,) = bodies(receiver, "seat.removed")
    assert removed["delta"] == -1
    (credit,) = bodies(receiver, "credit_note.issued")
    assert credit["number"] == CreditNote.objects.get().number

    with capture(execute=True):
        billing.plan_change(
            organization=organization, plan=bigger, on=frozen_clock.today(), at=frozen_clock.at
        )
    types = hooked()
    assert "subscription.plan_changed" in types and types.count("subscription.plan_changed") == 1
    (changed,) = bodies(receiver, "subscription.plan_changed")
    assert (changed["plan"], changed["previous_plan"]) == (bigger.code, plan.code)

    subscription.refresh_from_db()
    renewal_day = subscription.current_period_end
    frozen_clock.set(dt.datetime.combine(renewal_day, dt.time(9), tzinfo=dt.UTC))
    with capture(execute=True):
        billing.subscription_renew(subscription=subscription, on=renewal_day, at=frozen_clock.at)
        billing.subscription_renew(
            subscription=subscription, on=renewal_day, at=frozen_clock.at
        )  # again: nothing
    assert sorted(hooked()) == ["invoice.issued", "subscription.renewed"]
    (renewed,) = bodies(receiver, "subscription.renewed")
    assert renewed["current_period_start"] == renewal_day.isoformat()

    invoice = Invoice.objects.filter(organization=organization, status=Invoice.Status.OPEN).latest("pk")
    with capture(execute=True):
        charging.invoice_mark_paid(invoice=invoice, at=frozen_clock.at, acting_user=owner, reference="bank")
    assert hooked() == ["invoice.paid"]
    (paid,) = bodies(receiver, "invoice.paid")
    assert (paid["number"], paid["status"]) == (invoice.number, "paid")

    # Every event once: as many events as deliveries received, each id once.
    ids = [json.loads(r.body)["id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == WebhookEvent.objects.count()


def test_a_failed_payment_announces_invoice_payment_failed(
    organization, hooked, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        SubscriptionFactory(organization=organization, plan=PlanFactory(), start_on=ON)
    hooked()
    invoice = Invoice.objects.get(organization=organization)
    attempt = PaymentAttempt.objects.create(
        organization=organization,
        invoice=invoice,
        number=1,
        idempotency_key="test-attempt-1",
        amount_minor=invoice.amount_due_minor,
        currency=invoice.currency,
        status=PaymentAttempt.Status.FAILED,
        failure_code="card_declined",
        created_at=AT,
        updated_at=AT,
    )
    with django_capture_on_commit_callbacks(execute=True):
        dunning.payment_failure_record(invoice=invoice, attempt=attempt, at=AT, needs_action=False)
    assert hooked() == ["invoice.payment_failed"]
    (failed,) = bodies(receiver, "invoice.payment_failed")
    assert failed["number"] == invoice.number
    assert failed["payment_attempt"] == {
        "number": 1,
        "failure_code": "card_declined",
        "amount_minor": invoice.amount_due_minor,
        "currency": invoice.currency,
    }


def test_usage_crossing_80_and_100_percent_announces_each_threshold_once_and_exhaustion(
    organization, hooked, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    from tests.usage.conftest import AT as USAGE_AT
    from tests.usage.conftest import PERIOD_START, event, subscribe
    from usage.services import usage_record_batch

    subscribe(organization)  # ai_tokens: 1,000 a period, hard

    def record(*events):
        with django_capture_on_commit_callbacks(execute=True):
            usage_record_batch(organization=organization, events=list(events), at=USAGE_AT)

    record(event("a", 790))
    assert hooked() == []
    record(event("b", 10))  # 800 of 1,000
    assert hooked() == ["usage.threshold_reached"]
    record(event("c", 100), event("b", 10))  # 900, and a replayed event: nothing new
    assert hooked() == []
    record(event("d", 300))  # 1,200
    assert sorted(hooked()) == ["entitlement.exhausted", "usage.threshold_reached"]
    record(event("e", 300))
    assert hooked() == []
    reached = bodies(receiver, "usage.threshold_reached")
    assert [(b["meter"], b["threshold_percent"], b["limit"]) for b in reached] == [
        ("ai_tokens", 80, 1000),
        ("ai_tokens", 100, 1000),
    ]
    (exhausted,) = bodies(receiver, "entitlement.exhausted")
    assert (exhausted["used"], exhausted["period_start"]) == (1200, PERIOD_START.isoformat())
