"""`manage.py renew_due [--at INSTANT]`: renew every subscription that is due, here and now.

The same selection (`subscriptions_due`) and service (`subscription_renew`) as the hourly
Celery task, run synchronously in this process with progress on stdout, for operators and
for the demo without a broker. Safe to run while workers renew too: each renewal takes
the subscription's row lock and is idempotent. The summary counts what this run itself
issued and canceled (`Renewal`), never what another renewer did meanwhile.
"""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from billing.models import Subscription
from billing.selectors import subscriptions_due
from billing.services import subscription_renewal_run
from core import clock


def _instant(value: str) -> dt.datetime:
    at = parse_datetime(value)
    if at is None or at.tzinfo is None:
        raise CommandError(
            f"--at {value!r}: expected an ISO 8601 instant with an offset, e.g. 2026-03-01T06:00Z."
        )
    return at


class Command(BaseCommand):
    help = "Renew every subscription due now (each in its organization's time zone) and print a summary."

    def add_arguments(self, parser):
        parser.add_argument(
            "--at",
            type=_instant,
            default=None,
            help="The instant to renew at (ISO 8601 with offset); default: now.",
        )

    def handle(self, *args, at: dt.datetime | None, **options):
        at = at or clock.now()
        started = time.monotonic()
        due = subscriptions_due(at=at)
        self.stdout.write(f"{len(due)} subscriptions due at {at.isoformat()}")
        step = max(1, len(due) // 20)
        issued = canceled = renewed_here = 0
        failed: list[tuple[int, str]] = []
        for done, subscription_id in enumerate(due, start=1):
            subscription = Subscription.objects.select_related("organization").get(pk=subscription_id)
            _at, on = clock.organization_now_and_today(subscription.organization, at=at)
            try:
                renewal = subscription_renewal_run(subscription=subscription, on=on, at=at)
            except Exception as error:  # one broken subscription must not stop the others
                failed.append((subscription_id, f"{type(error).__name__}: {error}"))
                self.stderr.write(f"  subscription {subscription_id}: {failed[-1][1]}")
                continue
            issued += len(renewal.invoices)
            canceled += renewal.canceled
            renewed_here += bool(renewal.invoices) or renewal.canceled
            if options["verbosity"] >= 2:
                self.stdout.write(
                    f"  {subscription.organization} ({on}): {len(renewal.invoices)} invoices"
                    + (", canceled at period end" if renewal.canceled else "")
                )
            elif done % step == 0 or done == len(due):
                self.stdout.write(f"  {done}/{len(due)}")
        seconds = time.monotonic() - started
        rate = f" ({issued / seconds:.1f} invoices/s)" if issued and seconds else ""
        # Due when selected, but another renewer (a worker, another run) got there first.
        elsewhere = len(due) - len(failed) - renewed_here
        self.stdout.write(
            f"Renewed {renewed_here} of {len(due)} subscriptions in {seconds:.1f} s: "
            f"{issued} invoices issued{rate}, {canceled} canceled at period end, {len(failed)} failed"
            + (f", {elsewhere} found up to date by another renewer meanwhile." if elsewhere else ".")
        )
        if failed:
            raise CommandError(
                f"{len(failed)} subscriptions failed: " + ", ".join(str(pk) for pk, _ in failed)
            )
