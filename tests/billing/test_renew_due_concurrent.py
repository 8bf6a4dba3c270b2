"""`renew_due` beside other renewers reports what it itself issued (issue 21, finding 6).

Several runs of the command at once on PostgreSQL (threads, each with its own connection),
over the same due subscriptions: every invoice is issued once, by whichever run got the
subscription's row lock first, and the runs' "invoices issued" add up to the invoices that
exist, not to more. Before, a run counted the subscription's invoices before and after its
turn, and so also counted those another run committed while it waited for the lock.
"""

import io
import re
import threading

import pytest
from django.core.management import call_command
from django.db import connections

from invoices.models import Invoice, Reason
from tests.billing.test_renewal_workers import assert_each_invoice_once, monthly_plan, subscribe

RUNS = 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_renew_due_runs_report_together_exactly_the_invoices_issued(frozen_clock):
    today = frozen_clock.today()
    plan = monthly_plan()
    expected = {}
    for _ in range(30):
        subscription, starts = subscribe(plan, months_behind=3, today=today, seats=2)
        expected[subscription.pk] = starts
    total = sum(map(len, expected.values()))
    outputs = [io.StringIO() for _ in range(RUNS)]
    errors = []
    start = threading.Barrier(RUNS)

    def run(out):
        try:
            start.wait()
            call_command("renew_due", "--at", frozen_clock.at.isoformat(), stdout=out)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(out,)) for out in outputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert Invoice.objects.filter(reason=Reason.SUBSCRIPTION_CYCLE).count() == total
    assert_each_invoice_once(expected)
    summaries = [
        re.search(r"Renewed (\d+) of (\d+) subscriptions.*?: (\d+) invoices issued", o.getvalue())
        for o in outputs
    ]
    assert all(summaries), [o.getvalue() for o in outputs]
    assert sum(int(s[3]) for s in summaries) == total
    assert sum(int(s[1]) for s in summaries) == len(expected)
