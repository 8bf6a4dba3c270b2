"""Units other than seats (seed 001): the engine's pieces that the renewal, the start of a
subscription and the unit services share (billing-rules.md, "Units other than seats").

A plan's unit types (`PlanUnitType`) are billed on the plan's own interval and period. Per
type, `created` is what exists now (live `Unit` rows) and `billed` (`UnitItem.billed`) what
the subscription pays for in its current period, never below `max(included, committed,
created)`; the billable units are `billed - included`. Everything here runs under the
subscription's row lock, taken by the caller.
"""

import datetime as dt
from fractions import Fraction

from django.db.models import Count

from billing.domain import lines as L
from billing.domain.proration import charge_portion, credit_portion
from organizations.errors import RuleViolation

from .models import Plan, PlanUnitType, Subscription, Unit, UnitItem


class MaxUnitsExceeded(RuleViolation):
    code = "max_units_exceeded"


def unit_types_of(plan: Plan) -> list[PlanUnitType]:
    return list(plan.unit_types.order_by("code"))


def units_created(*, organization_id: int) -> dict[str, int]:
    """Live units per unit type code."""
    rows = (
        Unit.objects.filter(organization_id=organization_id, deleted_at__isnull=True)
        .values("code")
        .annotate(n=Count("id"))
    )
    return {row["code"]: row["n"] for row in rows}


def unit_item_for(*, subscription: Subscription, unit_type: PlanUnitType, created: int) -> UnitItem:
    """The subscription's billed quantity of `unit_type`, made on first use at its floor."""
    item = UnitItem.objects.filter(subscription=subscription, code=unit_type.code).first()
    if item is None:
        item = UnitItem.objects.create(
            organization_id=subscription.organization_id,
            subscription=subscription,
            code=unit_type.code,
            billed=max(unit_type.floor, created),
        )
    return item


def billable(unit_type: PlanUnitType, billed: int) -> int:
    return max(0, billed - unit_type.included)


def period_line(*, subscription: Subscription, unit_type: PlanUnitType, billed: int) -> L.LineDraft:
    """The billable units of `unit_type` for the subscription's whole current period."""
    start, end = subscription.current_period_start, subscription.current_period_end
    count = billable(unit_type, billed)
    return L.LineDraft(
        kind=L.UNITS,
        description=L.describe_units(count, unit_type.name, subscription.plan.interval, start, end),
        quantity=count,
        unit_price_minor=unit_type.unit_price_minor,
        fraction=Fraction(1),
        period_start=start,
        period_end=end,
        interval=subscription.plan.interval,
        unit=unit_type.code,
    )


def proration_line(
    *, subscription: Subscription, unit_type: PlanUnitType, count: int, on: dt.date, credit: bool
) -> L.LineDraft:
    """`count` units bought (or, credit, given back) on `on`, prorated exactly like seats."""
    plan = subscription.plan
    portion = (credit_portion if credit else charge_portion)(
        proration=plan.proration,
        anchor=subscription.anchor,
        interval=plan.interval,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
        on=on,
    )
    return L.LineDraft(
        kind=L.PRORATION,
        description=L.describe_unit_proration(
            count, unit_type.name, portion.fraction, plan.interval, portion.start, portion.end, credit=credit
        ),
        quantity=count,
        unit_price_minor=unit_type.unit_price_minor,
        fraction=portion.fraction,
        period_start=portion.start,
        period_end=portion.end,
        interval=plan.interval,
        unit=unit_type.code,
    )


def renewal_billed(*, plan: Plan, unit_type: PlanUnitType, billed: int, created: int) -> int:
    """What a renewal bills: `keep` the billed units, `in_use` max(created, committed, included)."""
    if plan.renewal_seats == Plan.RenewalSeats.KEEP:
        return max(billed, unit_type.floor, created)
    return max(created, unit_type.floor)


def units_start_lines(*, subscription: Subscription) -> list[L.LineDraft]:
    """At the start of a subscription: each unit type billed at max(created, included,
    committed), its billable units on the first invoice."""
    created = units_created(organization_id=subscription.organization_id)
    lines = []
    for unit_type in unit_types_of(subscription.plan):
        item = unit_item_for(
            subscription=subscription, unit_type=unit_type, created=created.get(unit_type.code, 0)
        )
        lines.append(period_line(subscription=subscription, unit_type=unit_type, billed=item.billed))
    return lines


def units_renewal_lines(*, subscription: Subscription) -> list[L.LineDraft]:
    """On the day the plan's period renews (the subscription already holds the new period):
    each unit type's billed quantity for the new period, and its line.

    One query when the plan has no unit types; the unit types, their items and the live
    units otherwise."""
    unit_types = unit_types_of(subscription.plan)
    if not unit_types:
        return []
    created = units_created(organization_id=subscription.organization_id)
    items = {item.code: item for item in UnitItem.objects.filter(subscription=subscription)}
    lines = []
    for unit_type in unit_types:
        count = created.get(unit_type.code, 0)
        item = items.get(unit_type.code) or unit_item_for(
            subscription=subscription, unit_type=unit_type, created=count
        )
        billed = renewal_billed(
            plan=subscription.plan, unit_type=unit_type, billed=item.billed, created=count
        )
        if billed != item.billed:
            item.billed = billed
            item.save(update_fields=["billed"])
        lines.append(period_line(subscription=subscription, unit_type=unit_type, billed=billed))
    return lines


def unit_rows_create(
    *, organization_id: int, code: str, labels: list[str], on: dt.date, at: dt.datetime, actor_label: str
) -> list[Unit]:
    return [
        Unit.objects.create(
            organization_id=organization_id,
            code=code,
            label=label,
            created_on=on,
            created_at=at,
            created_by_label=actor_label,
        )
        for label in labels
    ]


def units_at_start(
    *, subscription: Subscription, counts: dict[str, int], on: dt.date, at: dt.datetime, actor_label: str
) -> None:
    """Units created with the subscription (`simulate`'s "units"), before it is first invoiced."""
    unit_types = {unit_type.code: unit_type for unit_type in unit_types_of(subscription.plan)}
    for code, count in counts.items():
        if code not in unit_types:
            raise RuleViolation(f"{subscription.plan.name} bills no unit {code!r}.", code="invalid_unit_type")
        if unit_types[code].max_units is not None and count > unit_types[code].max_units:
            raise MaxUnitsExceeded(
                f"{unit_types[code].name}: at most {unit_types[code].max_units}, not {count}."
            )
        unit_rows_create(
            organization_id=subscription.organization_id,
            code=code,
            labels=[""] * count,
            on=on,
            at=at,
            actor_label=actor_label,
        )
