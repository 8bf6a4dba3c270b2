"""Organization-scoped reads of plans and subscription state."""

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass

from django.db import router
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from config.clock import today_in
from config.compiled import PLACEHOLDER_ID, CompiledQuery
from invoices.services import credit_balance_minor
from organizations.models import Membership, Organization
from organizations.partners import bill_to_for

from .models import PendingCharge, Plan, SeatItem, Subscription


def plan_list(*, public_only: bool = True):
    plans = Plan.objects.prefetch_related("seat_prices", "limits")
    return plans.filter(is_public=True) if public_only else plans


def subscription_live(*, organization: Organization, lock: bool = False) -> Subscription | None:
    """The organization's subscription that is not canceled (at most one), optionally row-locked."""
    subscriptions = Subscription.objects.filter(organization=organization).exclude(
        status=Subscription.Status.CANCELED
    )
    if lock:
        # The subscription row only, not the joined plan row that every customer shares.
        subscriptions = subscriptions.select_for_update(of=("self",))
    return subscriptions.select_related("plan").first()


def active_members(*, organization: Organization):
    return Membership.objects.filter(organization=organization, removed_at__isnull=True)


def members_by_interval(*, organization: Organization) -> dict[str, int]:
    """Active members per seat interval; '' counts members on included (or pooled) seats."""
    rows = _members_by_interval_query(router.db_for_read(Membership)).all(organization_id=organization.pk)
    return {row["seat_interval"]: row["n"] for row in rows}


@functools.cache
def _members_by_interval_query(alias: str) -> CompiledQuery:
    """Compiled once (config/compiled.py): renewals that count members ask, customer by customer."""
    rows = (
        active_members(organization=PLACEHOLDER_ID)
        .using(alias)
        .order_by()
        .values("seat_interval")
        .annotate(n=Count("id"))
    )
    return CompiledQuery.of(rows, organization_id=PLACEHOLDER_ID)


def seats_total(*, subscription: Subscription) -> int:
    paid = SeatItem.objects.filter(subscription=subscription).aggregate(total=Sum("quantity"))["total"] or 0
    return subscription.plan.included_seats + paid


def seat_summary_expressions(subscription_ref: str = "pk", organization_ref: str = "organization_id") -> dict:
    """`seats_total` and the active-member count as expressions on a Subscription query, for
    reads that must stay one query (entitlements); a test holds them equal to seat_summary."""
    paid = (
        SeatItem.objects.filter(subscription_id=OuterRef(subscription_ref))
        .values("subscription_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    members = (
        Membership.objects.filter(organization_id=OuterRef(organization_ref), removed_at__isnull=True)
        .values("organization_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    return {
        "seats": F("plan__included_seats") + Coalesce(Subquery(paid[:1]), 0),
        "members": Coalesce(Subquery(members[:1]), 0),
    }


@dataclass(frozen=True)
class SeatSummary:
    seats: int
    members: int
    included: int
    committed: int
    max_seats: int | None

    @property
    def free(self) -> int:
        return max(0, self.seats - self.members)


def seat_summary(*, organization: Organization) -> SeatSummary | None:
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return None
    return SeatSummary(
        seats=seats_total(subscription=subscription),
        members=active_members(organization=organization).count(),
        included=subscription.plan.included_seats,
        committed=subscription.committed_seats,
        max_seats=subscription.plan.max_seats,
    )


def state_token(*, organization: Organization, on) -> str:
    """A fingerprint of everything a preview's prices depend on.

    A preview carries it; confirming compares it under the subscription's lock, so a
    change made meanwhile (someone bought seats, a renewal ran, credit was used) refuses
    the confirmation instead of silently charging another amount.
    """
    subscription = subscription_live(organization=organization)
    parts = [str(on)]
    if subscription is not None:
        parts += [
            subscription.pk,
            subscription.plan_id,
            subscription.status,
            subscription.anchor,
            subscription.current_period_start,
            subscription.current_period_end,
            subscription.committed_seats,
        ]
        parts += [
            (item.interval, item.quantity, item.period_start, item.period_end)
            for item in subscription.seat_items.order_by("interval")
        ]
        parts += list(
            subscription.pending_charges.filter(invoice__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # The balance that pays: the partner's under an internal agreement (seed 003).
        payer = bill_to_for(organization)
        parts.append(payer.pk)
        parts.append(credit_balance_minor(organization=payer, currency=subscription.plan.currency))
    parts += sorted(members_by_interval(organization=organization).items())
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


# No time zone is more than 14 hours ahead of UTC (Pacific/Kiritimati, UTC+14), so no
# organization's "today" is later than this many hours after the UTC instant.
MAX_UTC_OFFSET = dt.timedelta(hours=14)


def subscriptions_due(*, at: dt.datetime) -> list[int]:
    """Ids, ascending, of the live subscriptions with something due at instant `at`.

    Due: the subscription's period, a seat item's period or a pending charge's invoice
    date (`invoice_on`) falls on or before today in the organization's time zone, so
    `subscription_renew` has work to do. One query finds the candidates with the latest
    date any time zone can have; each is then checked against its own zone's today,
    computed once per zone. Canceled subscriptions are never due.
    """
    latest_today = (at.astimezone(dt.UTC) + MAX_UTC_OFFSET).date()
    first_item_end = (
        SeatItem.objects.filter(subscription=OuterRef("pk")).order_by("period_end").values("period_end")[:1]
    )
    first_pending_on = (
        PendingCharge.objects.filter(
            subscription=OuterRef("pk"), invoice__isnull=True, invoice_on__isnull=False
        )
        .order_by("invoice_on")
        .values("invoice_on")[:1]
    )
    candidates = (
        Subscription.objects.exclude(status=Subscription.Status.CANCELED)
        .annotate(item_due_on=Subquery(first_item_end), pending_due_on=Subquery(first_pending_on))
        .filter(
            Q(current_period_end__lte=latest_today)
            | Q(item_due_on__lte=latest_today)
            | Q(pending_due_on__lte=latest_today)
        )
        .order_by("pk")
        .values_list("pk", "organization__time_zone", "current_period_end", "item_due_on", "pending_due_on")
    )
    today_by_zone: dict[str, dt.date] = {}
    due = []
    for pk, zone, *days in candidates.iterator(chunk_size=5000):
        if zone not in today_by_zone:
            today_by_zone[zone] = today_in(zone, at=at)
        if min(day for day in days if day is not None) <= today_by_zone[zone]:
            due.append(pk)
    return due
