"""Organization-scoped reads of plans and subscription state."""

from dataclasses import dataclass

from django.db.models import Count, Sum

from organizations.models import Membership, Organization

from .models import Plan, SeatItem, Subscription


def plan_list(*, public_only: bool = True):
    plans = Plan.objects.prefetch_related("seat_prices", "limits")
    return plans.filter(is_public=True) if public_only else plans


def subscription_live(*, organization: Organization, lock: bool = False) -> Subscription | None:
    """The organization's subscription that is not canceled (at most one), optionally row-locked."""
    subscriptions = Subscription.objects.filter(organization=organization).exclude(
        status=Subscription.Status.CANCELED
    )
    if lock:
        subscriptions = subscriptions.select_for_update()
    return subscriptions.select_related("plan").first()


def active_members(*, organization: Organization):
    return Membership.objects.filter(organization=organization, removed_at__isnull=True)


def members_by_interval(*, organization: Organization) -> dict[str, int]:
    """Active members per seat interval; '' counts members on included (or pooled) seats."""
    rows = active_members(organization=organization).values("seat_interval").annotate(n=Count("id"))
    return {row["seat_interval"]: row["n"] for row in rows}


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
