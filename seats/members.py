"""What the members page shows of seats: reads for organizations, which imports no other app
and reaches this module through `organizations.membership_entry.membership_seats()`; the
members API reads the same.

Plain dataclasses of values (dates, intervals, amounts in minor units), no formatting: the
page's selector (organizations.selectors.members_page) turns them into text. The writes are
in seats.services.
"""

import datetime as dt
from dataclasses import dataclass

from billing.models import Interval, SeatIntervalChange
from billing.selectors import active_members, seat_summary, subscription_live
from organizations.models import Organization

from .previews import members_add_preview


@dataclass(frozen=True)
class SeatCount:
    used: int  # members holding a seat
    total: int  # seats included in the plan or paid for


def seat_count(*, organization: Organization) -> SeatCount | None:
    """Seats used of seats available; None without a subscription (no seats to count)."""
    summary = seat_summary(organization=organization)
    if summary is None:
        return None
    return SeatCount(used=summary.members, total=summary.seats)


@dataclass(frozen=True)
class ScheduledIntervalChange:
    interval: str  # the interval the member moves to
    effective_on: dt.date  # the end of their current seat period


@dataclass(frozen=True)
class MemberSeat:
    interval: str  # the paid seat's interval; "" an included (or pooled) seat
    renews_on: dt.date  # the end of the member's current seat period: their next renewal
    change: ScheduledIntervalChange | None


def member_seats(*, organization: Organization) -> dict[int, MemberSeat]:
    """Each active member's seat by membership id (three queries); {} without a subscription.

    A paid seat renews with its interval's seat item; an included seat with the plan."""
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return {}
    period_ends = {item.interval: item.period_end for item in subscription.seat_items.all()}
    changes = {
        change.membership_id: ScheduledIntervalChange(
            interval=change.to_interval, effective_on=change.effective_on
        )
        for change in SeatIntervalChange.objects.filter(
            subscription=subscription, status=SeatIntervalChange.Status.SCHEDULED
        )
    }
    return {
        pk: MemberSeat(
            interval=interval,
            renews_on=period_ends.get(interval, subscription.current_period_end)
            if interval
            else subscription.current_period_end,
            change=changes.get(pk),
        )
        for pk, interval in active_members(organization=organization).values_list("pk", "seat_interval")
    }


@dataclass(frozen=True)
class IntervalOption:
    """A billing interval an admin may pick for a new member, with what it costs."""

    value: str
    label: str  # "Weekly"
    price_minor: int  # per seat per interval, excluding tax
    currency: str
    # What adding one person on this interval today would invoice now (tax included), from the
    # engine's dry run; None when adding them would be refused (then `refusal` says why).
    charged_now_minor: int | None
    charged_later: bool  # the charge waits for a later invoice (next_day / next_invoice plans)
    refusal: str
    is_plan_interval: bool  # the plan's own interval: the default for a new member


def interval_options(
    *, organization: Organization, on: dt.date | None, at: dt.datetime | None, with_previews: bool
) -> list[IntervalOption]:
    """The plan's per-member intervals, shortest first; [] when its seats are one pool.

    `with_previews` runs `members_add_preview` on `on`/`at` once per interval (a rolled-back
    run of the real service): only for people who may invite. Without it, `on`/`at` may be
    None and `charged_now_minor` is None."""
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return []
    plan = subscription.plan
    prices = plan.seat_prices_by_interval()
    options = []
    for value in (Interval.WEEK, Interval.MONTH, Interval.YEAR):
        if value not in prices:
            continue
        charged, later, refusal = None, False, ""
        if with_previews:
            preview = members_add_preview(
                organization=organization, count=1, on=on, at=at, seat_interval=value
            )
            if preview.allowed:
                charged = preview.amount_due_now_minor
                later = any(document.type == "pending" for document in preview.documents)
            else:
                refusal = preview.refusal_message
        options.append(
            IntervalOption(
                value=value,
                label=Interval(value).label,
                price_minor=prices[value],
                currency=plan.currency,
                charged_now_minor=charged,
                charged_later=later,
                refusal=refusal,
                is_plan_interval=value == plan.interval,
            )
        )
    return options
