"""The demo's in-process beat (dashboard/scheduler.py, `manage.py demo_serve`): it runs the
production CELERY_BEAT_SCHEDULE's tasks in the demo's own process, so a subscription falls due
and is renewed while the demo runs, without `renew_due` by hand."""

import datetime as dt

import pytest
from celery import shared_task
from django.conf import settings

from billing.models import Subscription
from dashboard import scheduler
from dashboard.scheduler import InProcessBeat, entries_from
from invoices.models import Invoice
from tests.factories import PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

RENEW = {"renew-due-subscriptions": settings.CELERY_BEAT_SCHEDULE["renew-due-subscriptions"]}


@shared_task(name="tests.scheduler_boom")
def boom():
    raise RuntimeError("boom")


def test_every_production_beat_entry_becomes_a_schedule_with_a_registered_task():
    beat = InProcessBeat(settings.CELERY_BEAT_SCHEDULE)
    assert {entry.name for entry in beat.entries} == set(settings.CELERY_BEAT_SCHEDULE)
    for entry in beat.entries:
        assert entry.task in beat.app.tasks, entry.task


def test_a_due_subscription_is_renewed_by_the_beat_and_not_again_until_the_next_run(frozen_clock):
    plan = PlanFactory(interval="month", base_price_minor=10000, included_seats=1)
    subscription = SubscriptionFactory(plan=plan, start_on=dt.date(2026, 6, 1), at=frozen_clock())
    frozen_clock.set(dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC))  # the renewal day has come
    invoices_before = Invoice.objects.filter(organization=subscription.organization).count()
    beat = InProcessBeat(RENEW)

    assert beat.run_due() == ["renew-due-subscriptions"]  # due at start: what fell due while stopped

    subscription = Subscription.objects.get(pk=subscription.pk)
    assert subscription.current_period_start == dt.date(2026, 7, 1)
    assert Invoice.objects.filter(organization=subscription.organization).count() == invoices_before + 1
    assert beat.run_due() == []  # hourly: not due again a moment later


def test_a_failing_entry_is_logged_and_the_others_still_run(monkeypatch):
    logged = []
    monkeypatch.setattr(scheduler.logger, "exception", lambda message, *args: logged.append(message % args))
    schedule = {"boom": {"task": "tests.scheduler_boom", "schedule": 5.0}, **RENEW}
    beat = InProcessBeat(schedule)

    assert beat.run_due() == ["boom", "renew-due-subscriptions"]
    assert logged == ["in-process beat: boom (tests.scheduler_boom) failed"]


def test_a_schedule_given_as_seconds_or_a_timedelta_runs_at_that_pace():
    entries = entries_from(
        {"a": {"task": "x", "schedule": 5.0}, "b": {"task": "y", "schedule": dt.timedelta(hours=1)}}
    )
    assert [entry.every.run_every for entry in entries] == [dt.timedelta(seconds=5), dt.timedelta(hours=1)]
