"""Which plans the change-plan dialog suggests: the cheapest plans whose limits cover what
the organization uses, with room to grow.

Pure: the caller reads the plans and the usage and passes them in.
"""

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from .periods import MONTH, WEEK, YEAR

# Suggested plans cover the usage with this much room to grow (20 %), so a plan is not
# suggested that the next busy week fills.
HEADROOM = Fraction(6, 5)
SUGGESTED_PLANS = 3
# Intervals in months, to compare plans of different intervals when ranking suggestions.
MONTHS_PER_INTERVAL = {WEEK: Fraction(12, 52), MONTH: Fraction(1), YEAR: Fraction(12)}


@dataclass(frozen=True)
class PlanTerms:
    """What the rule reads of a plan."""

    code: str
    interval: str
    base_price_minor: int
    seat_price_minor: int  # a seat of the pool
    seat_prices_minor: tuple[int, ...]  # per-member intervals: each interval's seat price; () for a pool
    included_seats: int
    limits: Mapping[str, int | None]  # meter -> limit, None: unlimited (seats: the plan's max seats)
    recommended_rank: int | None  # the catalogue's order among plans of the same cost; None: unranked
    display_order: int


def covers(limits: Mapping[str, int | None], needs: Mapping[str, int]) -> bool:
    """Every limit is at or above the usage grown by the headroom, rounded up to a whole unit
    (unlimited meters always are; a meter not in `needs` is unused)."""
    return all(
        limit is None or math.ceil(needs.get(meter, 0) * HEADROOM) <= limit for meter, limit in limits.items()
    )


def monthly_cost(plan: PlanTerms, *, members: int) -> Fraction:
    """Only to rank suggestions, in minor units a month: the base and the seats beyond the
    included ones at today's size (the lowest seat price when seats have several intervals)."""
    billable = max(0, members - plan.included_seats)
    seat_price = min(plan.seat_prices_minor, default=plan.seat_price_minor)
    return (plan.base_price_minor + billable * seat_price) / MONTHS_PER_INTERVAL.get(
        plan.interval, Fraction(1)
    )


@dataclass(frozen=True)
class OverLimit:
    """A meter whose usage today is above a plan's limit."""

    meter: str
    used: int
    limit: int


def over_limits(limits: Mapping[str, int | None], used: Mapping[str, int]) -> list[OverLimit]:
    """The meters whose usage today is above the limit (no headroom: what would be over at
    once), in the order of `limits`; unlimited meters never are."""
    return [
        OverLimit(meter=meter, used=used.get(meter, 0), limit=limit)
        for meter, limit in limits.items()
        if limit is not None and used.get(meter, 0) > limit
    ]


def suggested_plans(
    plans: Iterable[PlanTerms],
    *,
    needs: Mapping[str, int],
    members: int,
    current_code: str,
    unavailable: Collection[str] = (),
) -> list[str]:
    """The codes of the plans to suggest, best first, at most SUGGESTED_PLANS: plans other
    than the current one that the organization can move to (not in `unavailable`) and that
    cover the needs; the cheapest a month at today's size first, then by the catalogue's
    recommended rank (unranked last), then by display order."""

    def rank(plan: PlanTerms):
        unranked = plan.recommended_rank is None
        return (monthly_cost(plan, members=members), unranked, plan.recommended_rank or 0, plan.display_order)

    candidates = [
        plan
        for plan in plans
        if plan.code != current_code and plan.code not in unavailable and covers(plan.limits, needs)
    ]
    return [plan.code for plan in sorted(candidates, key=rank)[:SUGGESTED_PLANS]]
