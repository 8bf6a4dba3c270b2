"""Organization-scoped reads of usage: entitlements, the overview's meters and statistics.

Everything here reads the rollups (`UsagePeriodTotal`, `UsageCounter`, `UsageDailyTotal`),
never the raw events, so the answers cost the same with 10 or 10 million events.
"""

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connections, router
from django.db.models import Sum
from django.db.models.functions import TruncDate, TruncMonth

from billing.domain.periods import MONTH, add_months, period_containing, period_index, period_start
from billing.domain.recommendation import OverLimit, over_limits
from billing.models import Meter, Plan, PlanLimit, Subscription
from invoices.models import Invoice
from organizations.models import Organization

from . import domain as D
from .models import ModelPrice, UsageCounter, UsageDailyTotal, UsageEvent, UsagePeriodTotal

# Without a live subscription, usage periods are calendar months and nothing is included.
NO_PLAN_ANCHOR = dt.date(2000, 1, 1)
METER_LABELS = dict(Meter.choices)


@dataclass(frozen=True)
class MeteringPlan:
    """What ingestion needs to know about an organization: its dates, periods and limits."""

    time_zone: ZoneInfo
    anchor: dt.date
    interval: str
    plan_name: str | None
    limits: dict[str, tuple[int | None, bool]] = field(default_factory=dict)  # meter -> (limit, hard)

    @property
    def has_plan(self) -> bool:
        return self.plan_name is not None

    def period(self, day: dt.date) -> tuple[dt.date, dt.date]:
        """The usage period [start, end) holding `day`: the billing period of the subscription."""
        return period_containing(self.anchor, self.interval, day)

    def earliest_day(self, day: dt.date) -> dt.date:
        """Start of the period before the one holding `day`: older usage is refused."""
        return period_start(self.anchor, self.interval, period_index(self.anchor, self.interval, day) - 1)

    def limit(self, meter: str) -> tuple[int | None, bool]:
        """(limit, hard). No plan: (0, hard). A plan without a row for the meter: unlimited."""
        if not self.has_plan:
            return 0, True
        return self.limits.get(meter, (None, False))


def metering_plan(*, organization: Organization) -> MeteringPlan:
    """The organization's usage periods and limits, read with the entitlement check's one query."""
    tz = ZoneInfo(organization.time_zone)
    row = _entitlement_row(organization=organization, limits=D.REPORTED_METERS, used=())
    if row is None:
        return MeteringPlan(time_zone=tz, anchor=NO_PLAN_ANCHOR, interval=MONTH, plan_name=None)
    return MeteringPlan(
        time_zone=tz,
        anchor=row["anchor"],
        interval=row["plan_interval"],
        plan_name=row["plan_name"],
        limits={
            meter: (row[f"{meter}__limit"], bool(row[f"{meter}__hard"]))
            for meter in D.REPORTED_METERS
            if row[f"{meter}__has_limit"] is not None
        },
    )


# Entitlements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entitlement:
    meter: str
    limit: int | None  # None: unlimited
    used: int
    hard: bool
    quantity: int
    resets_on: dt.date | None  # None: a current count, never reset
    allowed: bool
    # Dunning gave up on an invoice (DUNNING_FINAL_ACTION=mark_uncollectible): nothing more is allowed.
    payment_blocked: bool = False

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def overage(self) -> int:
        """Recorded usage beyond the limit (usage is never refused, so it can exceed a hard limit)."""
        return 0 if self.limit is None else max(0, self.used - self.limit)

    @property
    def percent(self) -> int | None:
        return D.percent_used(used=self.used, limit=self.limit)

    @property
    def label(self) -> str:
        return METER_LABELS.get(self.meter, self.meter)


def _rollup_used(*, organization: Organization, meter: str, period_start_on: dt.date) -> int:
    if meter in D.PERIOD_METERS:
        rows = UsagePeriodTotal.objects.filter(
            organization=organization, meter=meter, period_start=period_start_on
        )
        return rows.values_list("total", flat=True).first() or 0
    return (
        UsageCounter.objects.filter(organization=organization, meter=meter)
        .values_list("count", flat=True)
        .first()
        or 0
    )


# A meter's use in the current period: the period's rollup (usage.domain.PERIOD_METERS), the
# current count (COUNT_METERS), or for seats the active members, as billing.selectors counts them.
_PERIOD_USED_SQL = (
    "SELECT t.total FROM usage_usageperiodtotal t WHERE t.organization_id = s.organization_id"
    " AND t.meter = %({meter})s AND t.period_start = s.current_period_start"
)
_COUNT_USED_SQL = (
    'SELECT c."count" FROM usage_usagecounter c WHERE c.organization_id = s.organization_id'
    " AND c.meter = %({meter})s"
)
_MEMBERS_SQL = (
    "SELECT COUNT(*) FROM organizations_membership m"
    " WHERE m.organization_id = s.organization_id AND m.removed_at IS NULL"
)
# The seats an organization holds: those the plan includes and those it pays for (seat_summary).
_SEATS_HELD_SQL = (
    "p.included_seats"
    " + COALESCE((SELECT SUM(q.quantity) FROM billing_seatitem q WHERE q.subscription_id = s.id), 0)"
)


@functools.cache
def _entitlement_sql(limits: tuple[str, ...], used: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The statement of `_entitlement_row` and the names of its columns: the live subscription
    and its plan, whether payments block usage (payments: an uncollectible invoice),
    the limit row of each meter in `limits` and the use of each in `used`.

    Plain SQL: building it with the ORM cost many times PostgreSQL's answer, on every
    entitlement check and ingested batch (docs/performance.md). One statement per set of
    meters, with nothing else varying, so that PostgreSQL prepares it with one generic plan
    instead of planning it again on each call. tests/usage/test_entitlements.py holds its
    answers to billing's seat summary, the payment block and the rollups.
    """
    columns = [
        "s.anchor",
        "s.current_period_start",
        "s.current_period_end",
        "p.interval",
        "p.name",
        "EXISTS (SELECT 1 FROM invoices_invoice i"
        " WHERE i.organization_id = s.organization_id AND i.status = %(uncollectible)s)",
    ]
    names = [
        "anchor",
        "current_period_start",
        "current_period_end",
        "plan_interval",
        "plan_name",
        "payment_blocked",
    ]
    joins = []
    for meter in limits:
        joins.append(
            f"LEFT JOIN billing_planlimit l_{meter} ON l_{meter}.plan_id = s.plan_id"
            f" AND l_{meter}.meter = %({meter})s"
        )
        held = meter == D.SEATS and meter in used
        columns += [f"l_{meter}.id", _SEATS_HELD_SQL if held else f'l_{meter}."limit"', f"l_{meter}.hard"]
        names += [f"{meter}__has_limit", f"{meter}__limit", f"{meter}__hard"]
    for meter in used:
        if meter == D.SEATS:
            columns.append(f"({_MEMBERS_SQL})")
        else:
            used_sql = _PERIOD_USED_SQL if meter in D.PERIOD_METERS else _COUNT_USED_SQL
            columns.append(f"({used_sql.format(meter=meter)})")
        names.append(f"{meter}__used")
    statement = (
        f"SELECT {', '.join(columns)} FROM billing_subscription s JOIN billing_plan p ON p.id = s.plan_id"
        f" {' '.join(joins)} WHERE s.organization_id = %(organization_id)s AND s.status <> %(canceled)s"
        " ORDER BY s.id LIMIT 1"
    )
    return statement, tuple(names)


def _entitlement_row(
    *, organization: Organization, limits: tuple[str, ...], used: tuple[str, ...]
) -> dict | None:
    """The organization's live subscription with the limit and hardness of each meter in
    `limits`, the use of each in `used` (the rollup for the stored current period; for seats,
    active members against seats held), and whether payments block usage, as ONE query;
    None without a live subscription."""
    statement, names = _entitlement_sql(limits, used)
    params = {
        "organization_id": organization.pk,
        "canceled": Subscription.Status.CANCELED,
        "uncollectible": Invoice.Status.UNCOLLECTIBLE,
        **{meter: meter for meter in (*limits, *used)},
    }
    with connections[router.db_for_read(Subscription)].cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return None if row is None else dict(zip(names, row, strict=True))


def _entitlements(
    *, organization: Organization, meters: list[str], quantity: int, on: dt.date
) -> tuple[list[Entitlement], dict]:
    """Entitlements of `meters` from ONE query (`_entitlement_row`).

    Seats: used = active members, limit = seats the organization holds (included + paid),
    hard unless the plan's seat limit row says soft. Derived from the seats data, never reported.
    """
    row = _entitlement_row(organization=organization, limits=tuple(meters), used=tuple(meters))
    return _entitlements_of_row(row, organization=organization, meters=meters, quantity=quantity, on=on)


def _entitlements_of_row(
    row: dict | None, *, organization: Organization, meters: list[str], quantity: int, on: dt.date
) -> tuple[list[Entitlement], dict]:
    """Entitlements from a row of `_entitlement_row` (None: no live subscription)."""
    results = []
    if row is None:
        start, end = period_containing(NO_PLAN_ANCHOR, MONTH, on)
        for meter in meters:
            used = (
                0
                if meter == D.SEATS
                else _rollup_used(organization=organization, meter=meter, period_start_on=start)
            )
            results.append(_entitlement(meter, 0, True, used, quantity, end))
        return results, {"plan_name": None, "period_start": start, "period_end": end}
    start, end = row["current_period_start"], row["current_period_end"]
    stale = not (start <= on < end)  # renewal not yet run, or a date asked for outside the period
    if stale:
        start, end = period_containing(row["anchor"], row["plan_interval"], on)
    for meter in meters:
        used = row[f"{meter}__used"] or 0
        if stale and meter in D.PERIOD_METERS:
            used = _rollup_used(organization=organization, meter=meter, period_start_on=start)
        if meter == D.SEATS:
            limit = row[f"{meter}__limit"]
            hard = True if row[f"{meter}__has_limit"] is None else bool(row[f"{meter}__hard"])
        elif row[f"{meter}__has_limit"] is None:
            limit, hard = None, False
        else:
            limit, hard = row[f"{meter}__limit"], bool(row[f"{meter}__hard"])
        results.append(
            _entitlement(meter, limit, hard, used, quantity, end, blocked=bool(row["payment_blocked"]))
        )
    return results, {"plan_name": row["plan_name"], "period_start": start, "period_end": end}


def _entitlement(meter, limit, hard, used, quantity, period_end, *, blocked: bool = False) -> Entitlement:
    return Entitlement(
        meter=meter,
        limit=limit,
        used=used,
        hard=hard,
        quantity=quantity,
        resets_on=period_end if meter in D.PERIOD_METERS else None,
        allowed=not blocked and D.allowed(used=used, limit=limit, hard=hard, quantity=quantity),
        payment_blocked=blocked,
    )


def entitlement(*, organization: Organization, meter: str, quantity: int, on: dt.date) -> Entitlement:
    """May the organization use `quantity` more of `meter` on date `on` (the organization's date)?"""
    results, _ = _entitlements(organization=organization, meters=[meter], quantity=quantity, on=on)
    return results[0]


def entitlements_all(*, organization: Organization, on: dt.date) -> list[Entitlement]:
    """All four meters, in catalogue order, from one query."""
    results, _ = _entitlements(organization=organization, meters=list(D.ALL_METERS), quantity=0, on=on)
    return results


# The overview's usage card -------------------------------------------------------------------


@dataclass(frozen=True)
class UsageOverview:
    plan_name: str | None
    period_start: dt.date
    resets_on: dt.date
    meters: list[Entitlement]

    @property
    def overall_percent(self) -> int:
        """The badge ("0% USED"): the highest percent of any limited meter."""
        return max((m.percent for m in self.meters if m.percent is not None), default=0)


def usage_overview(*, organization: Organization, on: dt.date) -> UsageOverview:
    meters, period = _entitlements(organization=organization, meters=list(D.ALL_METERS), quantity=0, on=on)
    return UsageOverview(
        plan_name=period["plan_name"],
        period_start=period["period_start"],
        resets_on=period["period_end"],
        meters=meters,
    )


# A plan change below the usage ------------------------------------------------------------


def plan_over_limits(*, organization: Organization, plan: Plan, on: dt.date) -> list[OverLimit]:
    """The meters whose usage today is above `plan`'s limits, meter by meter (used vs the new
    limit): what a move to `plan` would leave over its limits at once. Not seats: a plan whose
    max seats is below the members is refused outright (billing.services.plan_switch_refusal)."""
    used = {m.meter: m.used for m in usage_overview(organization=organization, on=on).meters}
    by_meter = {row.meter: row.limit for row in PlanLimit.objects.filter(plan=plan)}
    return over_limits({meter: by_meter.get(meter) for meter in D.REPORTED_METERS}, used)


# Statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """A chart-ready series: labels and values of the same length."""

    name: str
    unit: str
    labels: list[str]
    values: list
    period_start: dt.date
    period_end: dt.date  # exclusive
    currency: str | None = None


def _tokens(organization: Organization):
    return UsageDailyTotal.objects.filter(organization=organization, meter=D.AI_TOKENS)


def tokens_daily(*, organization: Organization, on: dt.date) -> Series:
    """AI tokens per day over the current billing period (every day, zeros included)."""
    start, end = metering_plan(organization=organization).period(on)
    rows = (
        _tokens(organization)
        .filter(day__gte=start, day__lt=end)
        .values("day")
        .annotate(total=Sum("quantity"))
    )
    by_day = {row["day"]: row["total"] for row in rows}
    days = [start + dt.timedelta(days=n) for n in range((end - start).days)]
    return Series(
        "tokens_daily", "tokens", [d.isoformat() for d in days], [by_day.get(d, 0) for d in days], start, end
    )


def tokens_monthly(*, organization: Organization, on: dt.date, months: int = 12) -> Series:
    """AI tokens per calendar month over the last `months` months, this month included."""
    first = add_months(on.replace(day=1), -(months - 1))
    end = add_months(on.replace(day=1), 1)
    rows = (
        _tokens(organization)
        .filter(day__gte=first, day__lt=end)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(total=Sum("quantity"))
    )
    by_month = {row["month"]: row["total"] for row in rows}
    starts = [add_months(first, n) for n in range(months)]
    return Series(
        "tokens_monthly",
        "tokens",
        [m.strftime("%Y-%m") for m in starts],
        [by_month.get(m, 0) for m in starts],
        first,
        end,
    )


def tokens_by_model(*, organization: Organization, on: dt.date) -> Series:
    """AI tokens per AI model over the current billing period, largest first."""
    start, end = metering_plan(organization=organization).period(on)
    rows = (
        _tokens(organization)
        .filter(day__gte=start, day__lt=end)
        .values("model")
        .annotate(total=Sum("quantity"))
        .order_by("-total", "model")
    )
    return Series(
        "tokens_by_model",
        "tokens",
        [row["model"] or "unknown" for row in rows],
        [row["total"] for row in rows],
        start,
        end,
    )


def cost_by_action(*, organization: Organization, on: dt.date) -> Series:
    """Cost of AI tokens per action type over the current billing period, in minor units of
    the organization's currency: tokens x the model's price per 1,000 tokens in that currency
    (usage.models.ModelPrice), summed exactly as Decimal and rounded once per action, half up.
    Prices are never converted between currencies: tokens of a model without a price in the
    organization's currency cost nothing here."""
    start, end = metering_plan(organization=organization).period(on)
    rows = (
        _tokens(organization)
        .filter(day__gte=start, day__lt=end)
        .values("action", "model")
        .annotate(total=Sum("quantity"))
    )
    currency = organization.currency
    prices = {
        model: price
        for model, price in ModelPrice.objects.filter(currency=currency).values_list(
            "model", "price_per_1k_tokens_minor"
        )
    }
    exact: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        price = prices.get(row["model"])
        action = row["action"] or "unknown"
        exact[action] += (
            Decimal(0) if price is None else D.cost_minor(tokens=row["total"], price_per_1k_minor=price)
        )
    ordered = sorted(exact.items(), key=lambda item: (-item[1], item[0]))
    return Series(
        "cost_by_action",
        "minor",
        [action for action, _ in ordered],
        [D.round_minor(value) for _, value in ordered],
        start,
        end,
        currency=currency,
    )


STATISTICS = {
    "daily": tokens_daily,
    "monthly": tokens_monthly,
    "models": tokens_by_model,
    "actions": cost_by_action,
}


# Rollups, live and recomputed (usage_rebuild) ------------------------------------------------


@dataclass(frozen=True)
class Rollups:
    period: dict  # (meter, period_start) -> total
    counters: dict  # meter -> count
    daily: dict  # (day, meter, model, action) -> quantity


def rollups_live(*, organization: Organization) -> Rollups:
    return Rollups(
        period={
            (row.meter, row.period_start): row.total
            for row in UsagePeriodTotal.objects.filter(organization=organization)
        },
        counters={row.meter: row.count for row in UsageCounter.objects.filter(organization=organization)},
        daily={
            (row.day, row.meter, row.model, row.action): row.quantity
            for row in UsageDailyTotal.objects.filter(organization=organization)
        },
    )


def rollups_recomputed(*, organization: Organization) -> Rollups:
    """The rollups as the raw events say they should be: grouped per local day in the database,
    then days folded into billing periods exactly as ingestion does."""
    plan = metering_plan(organization=organization)
    rows = (
        UsageEvent.objects.filter(organization=organization)
        .annotate(day=TruncDate("occurred_at", tzinfo=plan.time_zone))
        .values("day", "meter", "model", "action")
        .annotate(quantity_sum=Sum("quantity"))
        .order_by()
    )
    period: dict = defaultdict(int)
    counters: dict = defaultdict(int)
    daily: dict = {}
    for row in rows:
        day, meter, quantity = row["day"], row["meter"], row["quantity_sum"]
        daily[(day, meter, row["model"], row["action"])] = quantity
        if meter in D.PERIOD_METERS:
            period[(meter, plan.period(day)[0])] += quantity
        else:
            counters[meter] += quantity
    return Rollups(period=dict(period), counters=dict(counters), daily=daily)
