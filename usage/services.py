"""Usage writes: recording batches of events with their rollups, limit alerts.

Recording a batch, in one transaction (on PostgreSQL, three statements):
1. claim the event ids in `usage_usageeventkey` with INSERT ... ON CONFLICT DO NOTHING,
   ids sorted: an id counts only if its key row is new, so replays and concurrent repeats
   count once;
2. store the raw events of the claimed ids (PostgreSQL: binary COPY);
3. sum the new events per rollup key and upsert each rollup in sorted key order, so every
   connection takes row locks in the same order (no deadlocks);
4. mark and e-mail 80 % / 100 % of a limit once per period (a unique sent-marker row).
Usage that happened is always recorded: limits are answered by entitlements, never here.
"""

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from billing import services as billing_services
from billing.models import Plan
from core import events
from organizations import formatting as fmt
from organizations.errors import RuleViolation
from organizations.mail import mail_after_commit
from organizations.models import Membership, Organization, Role

from . import domain as D
from .models import UsageCounter, UsageDailyTotal, UsageEvent, UsagePeriodTotal
from .selectors import (
    METER_LABELS,
    MeteringPlan,
    metering_plan,
    plan_over_limits,
    rollups_live,
    rollups_recomputed,
)

# Advisory lock namespace: ingestion holds it shared per organization, usage_rebuild exclusive.
ADVISORY_LOCK_CLASS = 7301


class BatchTooLarge(RuleViolation):
    code = "batch_too_large"


class EventResult(NamedTuple):  # a thousand a batch: cheaper to build than a frozen dataclass
    index: int
    event_id: str
    status: str  # "accepted" | "duplicate" | "rejected"
    code: str = ""
    message: str = ""

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"


_result = functools.partial(tuple.__new__, EventResult)  # in C: see usage.domain._event


# Recording ---------------------------------------------------------------------------------


def _values(rows: int, width: int) -> str:
    group = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([group] * rows)


def _claim_event_ids(cursor, *, organization_id: int, event_ids: list[str]) -> set[str]:
    """Insert the key rows of `event_ids` (sorted); return the ids that were new."""
    claimed: set[str] = set()
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        params = [value for event_id in chunk for value in (organization_id, event_id)]
        cursor.execute(
            "INSERT INTO usage_usageeventkey (organization_id, event_id) VALUES "
            + _values(len(chunk), 2)
            + " ON CONFLICT DO NOTHING RETURNING event_id",
            params,
        )
        claimed.update(row[0] for row in cursor.fetchall())
    return claimed


# PostgreSQL, step 1: take the organization's usage lock shared (ingestion runs alongside
# itself, never alongside a rebuild: the sub-select runs once, before the first key is
# inserted), claim the batch's ids (sorted, so concurrent batches wait in one order), passed
# as one binary array, and answer the ids that were NOT new (usually few).
_CLAIM_PG = f"""
WITH claimed AS (
    INSERT INTO usage_usageeventkey (organization_id, event_id)
    SELECT %(organization_id)b, event_id FROM unnest(%(event_ids)b::varchar[]) AS t(event_id)
    WHERE (SELECT pg_advisory_xact_lock_shared({ADVISORY_LOCK_CLASS}, %(organization_id)b)) IS NOT NULL
    ORDER BY event_id COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
SELECT event_id FROM unnest(%(event_ids)b::varchar[]) AS t(event_id)
WHERE event_id NOT IN (SELECT event_id FROM claimed)
"""

# Step 2: the raw events of the new ids, by binary COPY (PostgreSQL writes them a page at a
# time, where INSERT writes and logs each row on its own).
_COPY_EVENTS_PG = (
    "COPY usage_usageevent"
    " (organization_id, event_id, meter, quantity, occurred_at, model, action, received_at)"
    " FROM STDIN (FORMAT BINARY)"
)
_COPY_EVENT_TYPES = ["int8", "varchar", "varchar", "int8", "timestamptz", "varchar", "varchar", "timestamptz"]

# Step 3: the batch's sums (made in Python, keys sorted) added to the three rollups, each
# rollup's rows in that sorted order, so no two batches lock rows in opposite orders; answers
# the period totals and counts after.
_ADD_TO_ROLLUPS_PG = """
WITH period AS (
    INSERT INTO usage_usageperiodtotal AS r (organization_id, meter, period_start, total)
    SELECT %(organization_id)b, meter, period_start, total
    FROM unnest(%(period_meter)b::varchar[], %(period_start)b::date[], %(period_total)b::bigint[])
        WITH ORDINALITY AS t(meter, period_start, total, position)
    ORDER BY position
    ON CONFLICT (organization_id, meter, period_start) DO UPDATE SET total = r.total + EXCLUDED.total
    RETURNING meter, period_start, total
), counter AS (
    INSERT INTO usage_usagecounter AS r (organization_id, meter, count)
    SELECT %(organization_id)b, meter, count
    FROM unnest(%(counter_meter)b::varchar[], %(counter_change)b::bigint[])
        WITH ORDINALITY AS t(meter, count, position)
    ORDER BY position
    ON CONFLICT (organization_id, meter) DO UPDATE SET count = r.count + EXCLUDED.count
    RETURNING meter, count
), daily AS (
    INSERT INTO usage_usagedailytotal AS r (organization_id, day, meter, model, action, quantity)
    SELECT %(organization_id)b, day, meter, model, action, quantity
    FROM unnest(
        %(daily_day)b::date[], %(daily_meter)b::varchar[], %(daily_model)b::varchar[],
        %(daily_action)b::varchar[], %(daily_quantity)b::bigint[]
    ) WITH ORDINALITY AS t(day, meter, model, action, quantity, position)
    ORDER BY position
    ON CONFLICT (organization_id, day, meter, model, action)
    DO UPDATE SET quantity = r.quantity + EXCLUDED.quantity
)
SELECT meter, period_start, total FROM period
UNION ALL SELECT meter, NULL, count FROM counter
"""


class Recorded(NamedTuple):
    claimed: set[str]  # the ids that were new: counted now
    period_after: dict  # (meter, period start) -> the period's total after the batch
    counts_after: dict  # meter -> the count after the batch


def _record_new_events(*, organization_id: int, firsts: dict, at: dt.datetime) -> Recorded:
    """Count the batch's distinct events (event id -> (event, local day, period start)) that
    the organization never sent before: store them raw and add them to the rollups."""
    if connection.vendor != "postgresql":
        return _record_new_events_portable(organization_id=organization_id, firsts=firsts, at=at)
    event_ids = sorted(firsts)
    # `%b` sends the arrays in binary: with server-side binding (settings.database) PostgreSQL
    # receives them as they are, and prepares these statements after DB_PREPARE_THRESHOLD uses.
    # `cursor.copy` is psycopg's COPY, reached through Django's cursor (which logs it).
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_PG, {"organization_id": organization_id, "event_ids": event_ids})
        not_new = {row[0] for row in cursor.fetchall()}
        claimed = set(event_ids).difference(not_new) if not_new else set(event_ids)
        if not claimed:
            return Recorded(claimed, {}, {})
        new_rows = [firsts[event_id] for event_id in event_ids if event_id in claimed]
        with cursor.copy(_COPY_EVENTS_PG) as copy:
            copy.set_types(_COPY_EVENT_TYPES)
            write = copy.write_row
            for (_index, event_id, meter, quantity, occurred_at, model, action), _day, _start in new_rows:
                write((organization_id, event_id, meter, quantity, occurred_at, model, action, at))
        sums = D.batch_sums(new_rows)
        cursor.execute(
            _ADD_TO_ROLLUPS_PG,
            {
                "organization_id": organization_id,
                "period_meter": [meter for (meter, _start), _total in sums.period],
                "period_start": [start for (_meter, start), _total in sums.period],
                "period_total": [total for _key, total in sums.period],
                "counter_meter": [meter for meter, _change in sums.counters],
                "counter_change": [change for _meter, change in sums.counters],
                "daily_day": [key[0] for key, _quantity in sums.daily],
                "daily_meter": [key[1] for key, _quantity in sums.daily],
                "daily_model": [key[2] for key, _quantity in sums.daily],
                "daily_action": [key[3] for key, _quantity in sums.daily],
                "daily_quantity": [quantity for _key, quantity in sums.daily],
            },
        )
        after = cursor.fetchall()
    return Recorded(
        claimed,
        period_after={(meter, start): total for meter, start, total in after if start is not None},
        counts_after={meter: count for meter, start, count in after if start is None},
    )


def _record_new_events_portable(*, organization_id: int, firsts: dict, at: dt.datetime) -> Recorded:
    """The same for SQLite (the demo run): a statement per step, the sums made in Python."""
    with connection.cursor() as cursor:
        claimed = _claim_event_ids(cursor, organization_id=organization_id, event_ids=sorted(firsts))
    new_rows = [firsts[event_id] for event_id in sorted(claimed)]
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                organization_id=organization_id,
                event_id=event.event_id,
                meter=event.meter,
                quantity=event.quantity,
                occurred_at=event.occurred_at,
                model=event.model,
                action=event.action,
                received_at=at,
            )
            for event, _day, _start in new_rows
        ],
        batch_size=500,
    )
    sums = D.batch_sums(new_rows)
    period_after: dict = {}
    counts_after: dict = {}
    if sums.period:
        rows = [(meter, start, total) for (meter, start), total in sums.period]
        columns = ("meter", "period_start", "total")
        found = _add_to_rollup("usage_usageperiodtotal", columns, organization_id, rows, True)
        period_after = {(meter, _as_date(start)): total for meter, start, total in found}
    if sums.counters:
        found = _add_to_rollup("usage_usagecounter", ("meter", "count"), organization_id, sums.counters, True)
        counts_after = dict(found)
    if sums.daily:
        rows = [(*key, quantity) for key, quantity in sums.daily]
        _add_to_rollup(
            "usage_usagedailytotal", ("day", "meter", "model", "action", "quantity"), organization_id, rows
        )
    return Recorded(claimed, period_after, counts_after)


def _add_to_rollup(table: str, names: tuple, organization_id: int, rows: list, returning=False) -> list:
    """Upsert (key..., amount) rows, in their (sorted) order, adding each amount to the stored one;
    with `returning`, answer the rows as stored after."""
    keys, amount = ", ".join(["organization_id", *names[:-1]]), names[-1]
    found = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                f"INSERT INTO {table} (organization_id, {', '.join(names)}) VALUES "
                + _values(len(chunk), len(names) + 1)
                + f" ON CONFLICT ({keys}) DO UPDATE SET {amount} = {table}.{amount} + EXCLUDED.{amount}"
                + (f" RETURNING {', '.join(names)}" if returning else ""),
                [value for row in chunk for value in (organization_id, *row)],
            )
            if returning:
                found += cursor.fetchall()
    return found


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def usage_lock_exclusive(*, organization_id: int) -> None:
    """A rebuild waits for batches in flight and holds ingestion off (see _CLAIM_PG)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, organization_id])


def usage_record_batch(*, organization: Organization, events: list, at: dt.datetime) -> list[EventResult]:
    """Record reported usage events; one result per event, in order (index, status, code, message).

    Bad events are rejected with a reason and the good ones kept; an event id the
    organization sent before (or earlier in this batch) answers success with status
    "duplicate" and is not counted again.
    """
    if len(events) > D.MAX_BATCH:
        raise BatchTooLarge(
            f"A batch holds at most {D.MAX_BATCH:,} events; this one has {len(events):,}. "
            "Split it and send again."
        )
    plan = metering_plan(organization=organization)
    today = D.local_day(at, plan.time_zone)
    earliest = plan.earliest_day(today)

    batch = D.batch_read(
        events,
        tz=plan.time_zone,
        earliest_day=earliest,
        at=at,
        period_start_of=lambda day: plan.period(day)[0],
    )
    results: list = [None] * len(events)
    for error in batch.refused:
        results[error.index] = EventResult(error.index, error.event_id, "rejected", error.code, error.message)
    for index, event_id in batch.repeats:
        results[index] = _result((index, event_id, "duplicate", "", ""))

    firsts = batch.firsts
    if firsts:
        with transaction.atomic():
            recorded = _record_new_events(organization_id=organization.pk, firsts=firsts, at=at)
            if recorded.claimed:
                _alerts_record(
                    organization=organization,
                    plan=plan,
                    period_after=recorded.period_after,
                    counts_after=recorded.counts_after,
                    current_start=plan.period(today)[0],
                    at=at,
                )
        claimed = recorded.claimed
        for event_id, (event, _day, _start) in firsts.items():
            status = "accepted" if event_id in claimed else "duplicate"
            results[event.index] = _result((event.index, event_id, status, "", ""))
    return results


# Limit alerts --------------------------------------------------------------------------------


def _alerts_record(
    *,
    organization: Organization,
    plan: MeteringPlan,
    period_after: dict,
    counts_after: dict,
    current_start: dt.date,
    at: dt.datetime,
) -> None:
    """Insert a sent-marker per (meter, period, threshold) reached; e-mail owners for each new one."""
    reached = []
    for (meter, start), total in period_after.items():
        if start == current_start:
            limit, _hard = plan.limit(meter)
            reached += [
                (meter, start, t, total, limit) for t in D.thresholds_reached(used=total, limit=limit)
            ]
    for meter, count in counts_after.items():
        limit, _hard = plan.limit(meter)
        reached += [
            (meter, current_start, t, count, limit) for t in D.thresholds_reached(used=count, limit=limit)
        ]
    if not reached or not plan.has_plan:
        return
    reached.sort()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO usage_usagealert"
            ' (organization_id, meter, period_start, threshold, used, "limit", sent_at)'
            " VALUES "
            + _values(len(reached), 7)
            + " ON CONFLICT (organization_id, meter, period_start, threshold)"
            " DO NOTHING RETURNING meter, threshold",
            [
                v
                for meter, start, t, used, limit in reached
                for v in (organization.pk, meter, start, t, used, limit, at)
            ],
        )
        new = {(meter, threshold) for meter, threshold in cursor.fetchall()}
    for meter, start, threshold, used, limit in reached:
        if (meter, threshold) in new:
            events.publish(
                events.USAGE_THRESHOLD_REACHED,
                organization=organization,
                meter=meter,
                threshold=threshold,
                used=used,
                limit=limit,
                period_start=start,
                at=at,
            )
            _alert_email(
                organization=organization,
                meter=meter,
                threshold=threshold,
                used=used,
                limit=limit,
                plan=plan,
                start=start,
            )


def _alert_email(*, organization, meter, threshold, used, limit, plan: MeteringPlan, start: dt.date) -> None:
    recipients = list(
        Membership.objects.filter(organization=organization, role=Role.OWNER, removed_at__isnull=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return
    label = METER_LABELS.get(meter, meter)
    context = {
        "organization_name": organization.name,
        "meter_label": label,
        "threshold": threshold,
        "used": used,
        "limit": limit,
        "plan_name": plan.plan_name,
        "resets_on": plan.period(start)[1] if meter in D.PERIOD_METERS else None,
        "hard": plan.limit(meter)[1],
    }
    with translation.override(fmt.document_language(organization.language)):
        subject = _("%(name)s: %(meter)s at %(threshold)s%% of your plan's limit") % {
            "name": organization.name,
            "meter": label,
            "threshold": threshold,
        }
        body = render_to_string("usage/email/limit_alert.txt", context)
    mail_after_commit(subject=subject, body=body, recipients=recipients)


# Rebuilding the rollups ----------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildResult:
    organization_id: int
    changed: bool
    period_rows: int
    counter_rows: int
    daily_rows: int


def usage_events_analyze() -> None:
    """PostgreSQL: refresh the planner's statistics of the raw events before rebuilds.

    Autovacuum never analyzes a partitioned table's parent, and analyzes a partition only a
    while after a bulk load. Without numbers the planner took an organization's 10 M events
    for a handful and grouped them by sorting them all on disk: 19 s instead of 2.4 s. ANALYZE
    reads a sample (half a second at 10 M events).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE usage_usageevent")


def usage_rollups_rebuild(*, organization: Organization, write: bool = True) -> RebuildResult:
    """Recompute an organization's rollups from its raw events; with `write`, replace the live ones.

    Holds the organization's usage lock exclusively, so no batch is half counted meanwhile.
    `changed` says whether the live rollups differed from the recomputed ones.
    """
    with transaction.atomic():
        usage_lock_exclusive(organization_id=organization.pk)
        fresh = rollups_recomputed(organization=organization)
        changed = fresh != rollups_live(organization=organization)
        if changed and write:
            org_id = organization.pk
            UsagePeriodTotal.objects.filter(organization_id=org_id).delete()
            UsageCounter.objects.filter(organization_id=org_id).delete()
            UsageDailyTotal.objects.filter(organization_id=org_id).delete()
            UsagePeriodTotal.objects.bulk_create(
                UsagePeriodTotal(organization_id=org_id, meter=meter, period_start=start, total=total)
                for (meter, start), total in sorted(fresh.period.items())
            )
            UsageCounter.objects.bulk_create(
                UsageCounter(organization_id=org_id, meter=meter, count=count)
                for meter, count in sorted(fresh.counters.items())
            )
            UsageDailyTotal.objects.bulk_create(
                (
                    UsageDailyTotal(
                        organization_id=org_id,
                        day=day,
                        meter=meter,
                        model=model,
                        action=action,
                        quantity=quantity,
                    )
                    for (day, meter, model, action), quantity in sorted(fresh.daily.items())
                ),
                batch_size=1000,
            )
    return RebuildResult(organization.pk, changed, len(fresh.period), len(fresh.counters), len(fresh.daily))


def usage_partitions_ensure(*, on: dt.date, months_ahead: int = 3) -> int:
    """Create the monthly partitions of the raw events table from last month to `months_ahead`
    after this one (PostgreSQL only; elsewhere the events are one table). Returns how many
    were created; rows waiting in the default partition move into their month."""
    if connection.vendor != "postgresql":
        return 0
    first = (on.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT usage_event_partitions_ensure(%s, %s)", [first, months_ahead + 2])
        return cursor.fetchone()[0]


# A plan change below the usage ------------------------------------------------------------


class OverLimitsUnconfirmed(RuleViolation):
    code = "over_limits_unconfirmed"


def plan_change_confirmed(
    *,
    organization: Organization,
    plan: Plan,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
    expected_token: str | None = None,
    accept_over_limits: bool = False,
):
    """Change the plan (billing.services.plan_change), refusing a move below today's usage
    unless the person confirmed it: with any meter over `plan`'s limits (`plan_over_limits`)
    and no `accept_over_limits`, nothing changes and the refusal lists each meter, used
    against the new limit. Every page and endpoint that changes a plan comes through here."""
    over = plan_over_limits(organization=organization, plan=plan, on=on)
    if over and not accept_over_limits:
        meters = "; ".join(
            _("%(meter)s: %(used)s used, limit %(limit)s")
            % {
                "meter": _(METER_LABELS.get(item.meter, item.meter)),
                "used": fmt.number(item.used, translation.get_language() or "en"),
                "limit": fmt.number(item.limit, translation.get_language() or "en"),
            }
            for item in over
        )
        raise OverLimitsUnconfirmed(
            _(
                "%(plan)s's limits are below what you use today (%(meters)s). Confirm that you "
                "accept being over these limits to change."
            )
            % {"plan": plan.name, "meters": meters},
            field="accept_over_limits",
        )
    return billing_services.plan_change(
        organization=organization,
        plan=plan,
        on=on,
        at=at,
        acting_user=acting_user,
        expected_token=expected_token,
    )
