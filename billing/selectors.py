"""Organization-scoped reads of plans and subscription state."""

import datetime as dt
from dataclasses import dataclass

from django.db import connections, router
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum

from core.clock import today_in
from invoices.models import Invoice
from invoices.services import credit_balance_minor
from organizations.models import Membership, Organization
from organizations.partners import bill_to_for

from .models import PendingCharge, Plan, SeatItem, Subscription, Unit
from .state_token import state_token_sign


def plan_list(*, public_only: bool = True):
    plans = Plan.objects.prefetch_related("seat_prices", "limits")
    return plans.filter(is_public=True) if public_only else plans


def free_plan(*, currency: str) -> Plan | None:
    """The catalogue's free plan in `currency`: public, nothing to pay for its base or its seats."""
    plans = plan_list(public_only=True).filter(currency=currency, base_price_minor=0, seat_price_minor=0)
    return plans.exclude(seat_prices__unit_price_minor__gt=0).first()


def subscription_live(*, organization: Organization, lock: bool = False) -> Subscription | None:
    """The organization's subscription that is not canceled (at most one), optionally row-locked."""
    subscriptions = Subscription.objects.filter(organization=organization).exclude(
        status=Subscription.Status.CANCELED
    )
    if lock:
        # The subscription row only, not the joined plan row that every customer shares.
        subscriptions = subscriptions.select_for_update(of=("self",))
    return subscriptions.select_related("plan").first()


def subscription_invoices(*, subscription: Subscription | int) -> QuerySet[Invoice]:
    """The invoices issued for `subscription`, whichever party they were addressed to."""
    return Invoice.objects.filter(subscription_link__subscription=subscription)


def invoice_subscription(*, invoice: Invoice, lock: bool = False) -> Subscription | None:
    """The subscription `invoice` was issued for (None for an invoice of none), optionally row-locked."""
    subscriptions = Subscription.objects.filter(invoice_links__invoice=invoice)
    if lock:
        subscriptions = subscriptions.select_for_update(of=("self",))
    return subscriptions.first()


def active_members(*, organization: Organization):
    return Membership.objects.filter(organization=organization, removed_at__isnull=True)


# Renewals that count members ask, customer by customer: plain SQL, the ORM took several times
# PostgreSQL's answer to build it (docs/performance.md). As `active_members`.
_MEMBERS_BY_INTERVAL_SQL = (
    "SELECT seat_interval, COUNT(*) FROM organizations_membership"
    " WHERE organization_id = %s AND removed_at IS NULL GROUP BY seat_interval"
)


def members_by_interval(*, organization: Organization) -> dict[str, int]:
    """Active members per seat interval; '' counts members on included (or pooled) seats."""
    with connections[router.db_for_read(Membership)].cursor() as cursor:
        cursor.execute(_MEMBERS_BY_INTERVAL_SQL, [organization.pk])
        return dict(cursor.fetchall())


def seats_total(*, subscription: Subscription) -> int:
    paid = SeatItem.objects.filter(subscription=subscription).aggregate(total=Sum("quantity"))["total"] or 0
    return subscription.plan.included_seats + paid


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
    """The signed fingerprint of everything a preview's prices depend on (`billing.state_token`).

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
        # Units other than seats: what is paid for and what exists, per type.
        parts += list(subscription.unit_items.order_by("code").values_list("code", "billed"))
        parts += list(
            Unit.objects.filter(organization=organization, deleted_at__isnull=True)
            .values("code")
            .annotate(n=Count("id"))
            .order_by("code")
            .values_list("code", "n")
        )
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
    return state_token_sign(parts)


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
