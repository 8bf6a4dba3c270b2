"""usage_record_batch: counting once, per-event refusals, rollups and limit e-mails."""

import datetime as dt

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from rest_framework.test import APIClient

from outbox.models import OutboxMessage
from outbox.relay import relay_due
from usage.models import (
    UsageAlert,
    UsageCounter,
    UsageDailyTotal,
    UsageEvent,
    UsageEventKey,
    UsagePeriodTotal,
)
from usage.selectors import rollups_live, rollups_recomputed
from usage.services import BatchTooLarge, usage_record_batch

from .conftest import AT, PERIOD_START, event

pytestmark = pytest.mark.django_db


def tokens(organization, start=PERIOD_START):
    row = UsagePeriodTotal.objects.filter(
        organization=organization, meter="ai_tokens", period_start=start
    ).first()
    return row.total if row else 0


def test_good_events_are_counted_and_rolled_up(organization, subscription):
    results = usage_record_batch(
        organization=organization,
        events=[
            event("a", 10),
            event("b", 5, model="gpt-y", action="search"),
            event("c", 2, meter="documents"),
            event("d", 1, meter="agents"),
            event("e", -1, meter="documents"),
        ],
        at=AT,
    )
    assert [r.status for r in results] == ["accepted"] * 5
    assert tokens(organization) == 15
    counts = dict(UsageCounter.objects.filter(organization=organization).values_list("meter", "count"))
    assert counts == {"documents": 1, "agents": 1}
    daily = set(
        UsageDailyTotal.objects.filter(organization=organization, meter="ai_tokens").values_list(
            "day", "model", "action", "quantity"
        )
    )
    assert daily == {
        (dt.date(2026, 5, 10), "gpt-x", "chat", 10),
        (dt.date(2026, 5, 10), "gpt-y", "search", 5),
    }
    assert UsageEvent.objects.filter(organization=organization).count() == 5


def test_replays_answer_duplicate_and_count_once(organization, subscription):
    batch = [event("a", 10), event("b", 20)]
    usage_record_batch(organization=organization, events=batch, at=AT)
    again = usage_record_batch(organization=organization, events=[*batch, event("c", 1)], at=AT)
    assert [(r.event_id, r.status, r.duplicate) for r in again] == [
        ("a", "duplicate", True),
        ("b", "duplicate", True),
        ("c", "accepted", False),
    ]
    assert tokens(organization) == 31
    assert UsageEvent.objects.filter(organization=organization).count() == 3


def test_the_same_id_twice_in_one_batch_counts_once(organization, subscription):
    results = usage_record_batch(organization=organization, events=[event("a", 10), event("a", 10)], at=AT)
    assert [r.status for r in results] == ["accepted", "duplicate"]
    assert tokens(organization) == 10


def test_the_same_id_in_another_organization_is_another_event(organization, subscription):
    from tests.factories import OrganizationFactory

    other = OrganizationFactory()
    usage_record_batch(organization=organization, events=[event("a", 10)], at=AT)
    results = usage_record_batch(organization=other, events=[event("a", 10)], at=AT)
    assert results[0].status == "accepted"


def test_bad_events_are_refused_one_by_one_and_good_ones_kept(organization, subscription):
    results = usage_record_batch(
        organization=organization,
        events=[
            event("ok1", 10),
            event("old", 10, timestamp="2026-03-31T12:00:00Z"),
            event("future", 10, timestamp="2026-05-15T12:06:00Z"),
            {"meter": "ai_tokens", "quantity": 1},
            event("seats", 1, meter="seats"),
            event("ok2", 5, timestamp="2026-04-01T00:00:00+02:00"),
        ],
        at=AT,
    )
    assert [(r.index, r.status, r.code) for r in results] == [
        (0, "accepted", ""),
        (1, "rejected", "timestamp_too_old"),
        (2, "rejected", "timestamp_in_future"),
        (3, "rejected", "missing_event_id"),
        (4, "rejected", "meter_not_reportable"),
        (5, "accepted", ""),
    ]
    assert all(r.message for r in results if r.status == "rejected")
    assert tokens(organization) == 10
    # Usage from the previous period counts in the previous period.
    assert tokens(organization, dt.date(2026, 4, 1)) == 5
    # A refused id was never claimed: sent again correctly, it counts.
    fixed = usage_record_batch(organization=organization, events=[event("old", 7)], at=AT)
    assert fixed[0].status == "accepted"
    assert tokens(organization) == 17


def test_a_batch_above_1000_is_refused_whole(organization, subscription):
    with pytest.raises(BatchTooLarge, match="at most 1,000 events; this one has 1,001"):
        usage_record_batch(organization=organization, events=[event(f"e{n}", 1) for n in range(1001)], at=AT)
    assert not UsageEventKey.objects.exists()
    assert not UsagePeriodTotal.objects.exists()


def test_usage_past_a_hard_limit_is_recorded(organization, subscription):
    results = usage_record_batch(organization=organization, events=[event("big", 5_000)], at=AT)
    assert results[0].status == "accepted"
    assert tokens(organization) == 5_000


@pytest.fixture
def record(django_capture_on_commit_callbacks):
    """usage_record_batch, running the on-commit callbacks (the e-mails) as a commit would."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return usage_record_batch(**kwargs)

    return run


def test_owners_are_emailed_once_per_period_at_80_and_100_percent(organization, subscription, owner, record):
    from organizations.models import Role
    from tests.factories import MembershipFactory

    MembershipFactory(organization=organization, role=Role.MEMBER)  # members get nothing
    record(organization=organization, events=[event("a", 790)], at=AT)
    assert mail.outbox == []
    record(organization=organization, events=[event("b", 10)], at=AT)  # 800 of 1,000
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    assert "80%" in mail.outbox[0].subject
    record(organization=organization, events=[event("c", 100)], at=AT)  # 900: nothing new
    assert len(mail.outbox) == 1
    record(organization=organization, events=[event("d", 300)], at=AT)  # 1,200
    assert len(mail.outbox) == 2
    assert "100%" in mail.outbox[1].subject
    record(organization=organization, events=[event("e", 300)], at=AT)
    assert len(mail.outbox) == 2
    assert set(UsageAlert.objects.values_list("meter", "period_start", "threshold")) == {
        ("ai_tokens", PERIOD_START, 80),
        ("ai_tokens", PERIOD_START, 100),
    }
    # Next period: e-mailed again.
    june = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
    record(organization=organization, events=[event("f", 850, timestamp="2026-06-10T10:00:00Z")], at=june)
    assert len(mail.outbox) == 3


class MailServerDown(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


def test_with_the_mail_server_down_a_batch_crossing_a_limit_succeeds_and_its_alert_arrives_once_later(
    organization, subscription, owner, api_key, settings, frozen_clock, django_capture_on_commit_callbacks
):
    """Issue 21, finding 5: the ingestion request that crosses 80 % answers 200 and its events
    count; the alert waits in the outbox with the error and goes out once the server is back."""
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/usage/events", {"events": [event("a", 800)]}, format="json")

    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert tokens(organization) == 800
    (row,) = OutboxMessage.objects.all()
    assert row.done_at is None and "Connection refused" in row.last_error
    assert mail.outbox == []

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    frozen_clock.advance(minutes=1)
    relay_due()
    frozen_clock.advance(hours=2)
    relay_due()
    assert [(m.to, "80%" in m.subject) for m in mail.outbox] == [([owner.email], True)]
    assert OutboxMessage.objects.get().done_at is not None


def test_count_meters_alert_too(organization, subscription, record):
    record(organization=organization, events=[event(f"a{n}", 1, meter="agents") for n in range(4)], at=AT)
    assert [m.subject for m in mail.outbox] == [f"{organization.name}: Agents at 80% of your plan's limit"]


def test_without_a_subscription_usage_is_recorded_in_calendar_months(organization):
    results = usage_record_batch(organization=organization, events=[event("a", 10)], at=AT)
    assert results[0].status == "accepted"
    assert tokens(organization, dt.date(2026, 5, 1)) == 10
    assert mail.outbox == []


def test_live_rollups_equal_recomputed(organization, subscription):
    usage_record_batch(
        organization=organization,
        events=[
            event("a", 10, timestamp="2026-04-30T22:30:00Z"),  # 1 May in Copenhagen
            event("b", 3, timestamp="2026-04-30T21:30:00Z"),  # 30 April in Copenhagen
            event("c", 2, meter="documents"),
            event("d", -2, meter="documents"),
        ],
        at=AT,
    )
    assert tokens(organization) == 10
    assert tokens(organization, dt.date(2026, 4, 1)) == 3
    assert rollups_live(organization=organization) == rollups_recomputed(organization=organization)


def test_a_full_batch_is_four_statements_whatever_its_size(organization, subscription):
    """The plan, then one statement per step: claim the ids, COPY the new events, add the sums
    to the rollups. A thousand events cost no more round trips than one. (No limit is near,
    so no alert is written; the test's transaction makes atomic() a savepoint.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.models import PlanLimit

    PlanLimit.objects.filter(plan=subscription.plan).update(limit=None)
    usage_record_batch(organization=organization, events=[event("warm", 1)], at=AT)
    batch = [
        event(f"e{n}", 1 + n % 7, meter="documents" if n % 10 == 0 else "ai_tokens", model=f"m{n % 3}")
        for n in range(1000)
    ]
    with CaptureQueriesContext(connection) as queries:
        results = usage_record_batch(organization=organization, events=batch, at=AT)
    assert {r.status for r in results} == {"accepted"}
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    statements = [s for s in statements if s not in ("SAVEPOINT", "RELEASE")]
    assert statements == ["SELECT", "WITH", "COPY", "WITH"], statements
    assert UsageEvent.objects.filter(organization=organization).count() == 1001


def test_a_batch_of_counts_only_and_one_of_tokens_only(organization, subscription):
    """The rollup statement gets empty arrays for the meters a batch lacks."""
    counts = usage_record_batch(
        organization=organization,
        events=[event("d1", 2, meter="documents"), event("a1", 1, meter="agents")],
        at=AT,
    )
    assert [r.status for r in counts] == ["accepted", "accepted"]
    assert not UsagePeriodTotal.objects.filter(organization=organization).exists()
    tokens = usage_record_batch(organization=organization, events=[event("t1", 7)], at=AT)
    assert [r.status for r in tokens] == ["accepted"]
    assert UsagePeriodTotal.objects.get(organization=organization, period_start=PERIOD_START).total == 7
    assert dict(UsageCounter.objects.filter(organization=organization).values_list("meter", "count")) == {
        "documents": 2,
        "agents": 1,
    }


@pytest.mark.django_db(transaction=True)
def test_ingestion_records_on_a_client_side_binding_connection_too(organization, subscription):
    """DB_SERVER_SIDE_BINDING=false (Django's default binding) must keep ingestion working: its
    binary array parameters and COPY then go through psycopg's client-side cursor."""
    from unittest import mock

    from django.db import connection

    client_bound = connection.copy()
    client_bound.settings_dict["OPTIONS"] = {
        **client_bound.settings_dict["OPTIONS"],
        "server_side_binding": False,
    }
    try:
        assert not client_bound.features.uses_server_side_binding
        with mock.patch("usage.services.connection", client_bound):
            first = usage_record_batch(
                organization=organization,
                events=[event("a", 10), event("b", 2, meter="documents"), event("a", 10)],
                at=AT,
            )
            again = usage_record_batch(
                organization=organization, events=[event("a", 10), event("c", 5)], at=AT
            )
    finally:
        client_bound.close()
    assert [r.status for r in first] == ["accepted", "accepted", "duplicate"]
    assert [r.status for r in again] == ["duplicate", "accepted"]
    assert tokens(organization) == 15
    assert UsageEvent.objects.filter(organization=organization).count() == 3
    assert rollups_live(organization=organization) == rollups_recomputed(organization=organization)
