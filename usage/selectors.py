"""Organization-scoped reads of usage: entitlements, the overview's meters and statistics.

Everything here reads the rollups (`UsagePeriodTotal`, `UsageCounter`, `UsageDailyTotal`),
never the raw events, so the answers cost the same with 10 or 10 million events.
"""

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import router
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import JSONObject, TruncDate, TruncMonth

from billing.domain.periods import MONTH, add_months, period_containing, period_index, period_start
from billing.models import Meter, PlanLimit, Subscription
from billing.payments.selectors import payment_blocked_expression
from billing.selectors import seat_summary_expressions
from config.compiled import PLACEHOLDER_ID, PLACEHOLDER_TEXT, CompiledQuery, concrete_attnames
from organizations.models import Organization

from . import domain as D
from .models import ApiKey, ModelPrice, UsageCounter, UsageDailyTotal, UsageEvent, UsagePeriodTotal

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
    row = _entitlement_query(D.REPORTED_METERS, router.db_for_read(Subscription), usage=False).first(
        organization_id=organization.pk
    )
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


def _limit_subquery(meter: str, column: str):
    return Subquery(PlanLimit.objects.filter(plan_id=OuterRef("plan_id"), meter=meter).values(column)[:1])


def _used_subquery(meter: str, period_column: str = "current_period_start"):
    if meter in D.PERIOD_METERS:
        rollup = UsagePeriodTotal.objects.filter(
            organization_id=OuterRef("organization_id"), meter=meter, period_start=OuterRef(period_column)
        ).values("total")
    else:
        rollup = UsageCounter.objects.filter(organization_id=OuterRef("organization_id"), meter=meter).values(
            "count"
        )
    return Subquery(rollup[:1])


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


def _entitlement_columns(meters: tuple[str, ...], alias: str, *, usage: bool, organization) -> tuple:
    """The live subscription of `organization` (an id or an outer reference) annotated with each
    meter's limit, hardness and use (the rollup for the stored current period; for seats, active
    members against seats held), and whether payments block usage; with the names of its
    columns. Without `usage`: the plan and its limits only (what ingestion needs, at a third of
    the cost)."""
    annotations = {"plan_interval": F("plan__interval"), "plan_name": F("plan__name")}
    if usage:
        annotations["payment_blocked"] = payment_blocked_expression(OuterRef("organization_id"))
    for meter in meters:
        annotations[f"{meter}__hard"] = _limit_subquery(meter, "hard")
        annotations[f"{meter}__has_limit"] = _limit_subquery(meter, "id")
        if meter == D.SEATS and usage:
            seats = seat_summary_expressions()
            annotations[f"{meter}__limit"] = seats["seats"]
            annotations[f"{meter}__used"] = seats["members"]
        else:
            annotations[f"{meter}__limit"] = _limit_subquery(meter, "limit")
            if usage:
                annotations[f"{meter}__used"] = _used_subquery(meter)
    queryset = (
        Subscription.objects.using(alias)
        .filter(organization_id=organization)
        .exclude(status=Subscription.Status.CANCELED)
        .annotate(**annotations)
        .order_by("pk")
    )
    return queryset, ("anchor", "current_period_start", "current_period_end", *annotations)


@functools.cache
def _entitlement_query(meters: tuple[str, ...], alias: str, usage: bool = True) -> CompiledQuery:
    """`_entitlement_columns` of one organization: ONE query, compiled once."""
    queryset, names = _entitlement_columns(meters, alias, usage=usage, organization=PLACEHOLDER_ID)
    return CompiledQuery.of(queryset.values(*names)[:1], organization_id=PLACEHOLDER_ID)


def _entitlements(
    *, organization: Organization, meters: list[str], quantity: int, on: dt.date
) -> tuple[list[Entitlement], dict]:
    """Entitlements of `meters` from ONE query (`_entitlement_query`).

    Seats: used = active members, limit = seats the organization holds (included + paid),
    hard unless the plan's seat limit row says soft. Derived from the seats data, never reported.
    """
    row = _entitlement_query(tuple(meters), router.db_for_read(Subscription)).first(
        organization_id=organization.pk
    )
    return _entitlements_of_row(row, organization=organization, meters=meters, quantity=quantity, on=on)


def _entitlements_of_row(
    row: dict | None, *, organization: Organization, meters: list[str], quantity: int, on: dt.date
) -> tuple[list[Entitlement], dict]:
    """Entitlements from a row of `_entitlement_columns` (None: no live subscription)."""
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
        results.append(_entitlement(meter, limit, hard, used, quantity, end, blocked=row["payment_blocked"]))
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
    """Cost of AI tokens per action type over the current billing period, in minor units:
    tokens x the model's price per 1,000 tokens, summed exactly and rounded once per action.
    Tokens of a model without a price cost nothing here."""
    start, end = metering_plan(organization=organization).period(on)
    rows = (
        _tokens(organization)
        .filter(day__gte=start, day__lt=end)
        .values("action", "model")
        .annotate(total=Sum("quantity"))
    )
    prices = {p.model: p for p in ModelPrice.objects.all()}
    exact: dict[str, Decimal] = defaultdict(Decimal)
    currency = None
    for row in rows:
        price = prices.get(row["model"])
        action = row["action"] or "unknown"
        if price is None:
            exact[action] += 0
            continue
        currency = currency or price.currency
        exact[action] += D.cost_minor(tokens=row["total"], price_per_1k_minor=price.price_per_1k_tokens_minor)
    ordered = sorted(exact.items(), key=lambda item: (-item[1], item[0]))
    return Series(
        "cost_by_action",
        "minor",
        [action for action, _ in ordered],
        [D.round_minor(value) for _, value in ordered],
        start,
        end,
        currency=currency or organization.currency,
    )


STATISTICS = {
    "daily": tokens_daily,
    "monthly": tokens_monthly,
    "models": tokens_by_model,
    "actions": cost_by_action,
}


# API keys ------------------------------------------------------------------------------------


def api_key_list(*, organization: Organization):
    return ApiKey.objects.filter(organization=organization).select_related("created_by", "created_as_partner")


@functools.cache
def _api_key_query(alias: str) -> CompiledQuery:
    """The key with its organization's columns, in one query compiled once (every API request)."""
    queryset = (
        ApiKey.objects.using(alias)
        .filter(secret_hash=PLACEHOLDER_TEXT)
        .values(
            *concrete_attnames(ApiKey), *(f"organization__{name}" for name in concrete_attnames(Organization))
        )
        .order_by()[:1]
    )
    return CompiledQuery.of(queryset, secret_hash=PLACEHOLDER_TEXT)


def api_key_by_hash(*, secret_hash: str) -> ApiKey | None:
    """The API key whose secret hashes to `secret_hash`, its organization loaded with it."""
    alias = router.db_for_read(ApiKey)
    row = _api_key_query(alias).first(secret_hash=secret_hash)
    return None if row is None else _api_key_of_row(row, alias)


@functools.cache
def _api_key_entitlement_query(meter: str, alias: str) -> CompiledQuery:
    """`_api_key_query` with the key's organization's `_entitlement_columns` for `meter` as one
    JSON value: a key holder's entitlement check in ONE query, compiled once."""
    subscription, names = _entitlement_columns(
        (meter,), alias, usage=True, organization=OuterRef("organization_id")
    )
    entitlement_row = subscription.values(row=JSONObject(**{name: F(name) for name in names}))[:1]
    queryset = (
        ApiKey.objects.using(alias)
        .filter(secret_hash=PLACEHOLDER_TEXT)
        .values(
            *concrete_attnames(ApiKey),
            *(f"organization__{name}" for name in concrete_attnames(Organization)),
            entitlement_row=Subquery(entitlement_row),
        )
        .order_by()[:1]
    )
    return CompiledQuery.of(queryset, secret_hash=PLACEHOLDER_TEXT)


_ROW_DATES = ("anchor", "current_period_start", "current_period_end")


def api_key_with_entitlement(
    *, secret_hash: str, meter: str, quantity: int, today: Callable[[Organization], dt.date]
) -> tuple[ApiKey | None, Entitlement | None]:
    """The API key whose secret hashes to `secret_hash` (as `api_key_by_hash`) and its
    organization's `entitlement` of `meter` on the organization's date `today(organization)`,
    read together in one query: the SaaS asks before each metered action. The caller decides
    whether the key may see it (revoked, another organization)."""
    alias = router.db_for_read(ApiKey)
    row = _api_key_entitlement_query(meter, alias).first(secret_hash=secret_hash)
    if row is None:
        return None, None
    api_key = _api_key_of_row(row, alias)
    entitlement_row = row["entitlement_row"]
    if entitlement_row is not None:  # JSON gives dates as text
        entitlement_row.update({name: dt.date.fromisoformat(entitlement_row[name]) for name in _ROW_DATES})
    organization = api_key.organization
    results, _ = _entitlements_of_row(
        entitlement_row, organization=organization, meters=[meter], quantity=quantity, on=today(organization)
    )
    return api_key, results[0]


def _api_key_of_row(row: dict, alias: str) -> ApiKey:
    key_names, organization_names = concrete_attnames(ApiKey), concrete_attnames(Organization)
    api_key = ApiKey.from_db(alias, key_names, [row[name] for name in key_names])
    api_key.organization = Organization.from_db(
        alias, organization_names, [row[f"organization__{name}"] for name in organization_names]
    )
    return api_key


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
