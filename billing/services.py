"""The billing engine's writes: subscriptions, seat quantities, charges, credits and renewal.

Every function takes the billing date (`on`) and the instant (`at`) from its caller; the
clock is read only at the edges (views, tasks, commands, `simulate`). Functions that
change seats or issue documents run under the subscription's row lock.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from billing.domain import lines as L
from billing.domain.limits import MAX_SEATS
from billing.domain.periods import period_containing
from billing.domain.proration import charge_portion, credit_portion, day_fraction
from billing.domain.tax import tax_treatment
from core import events, sql
from invoices import services as documents
from invoices.models import CreditNote, Invoice, Reason
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Membership, Organization
from organizations.partners import bill_to_for

from . import units as unit_billing
from .models import (
    PendingCharge,
    Plan,
    PlanUnitType,
    SeatIntervalChange,
    SeatItem,
    SeatLedgerEntry,
    Subscription,
    SubscriptionInvoice,
)
from .selectors import (
    active_members,
    free_plan,
    members_by_interval,
    seats_total,
    state_token,
    subscription_invoices,
    subscription_live,
)
from .state_token import PreviewStale as PreviewStale  # re-exported: the confirmations raise it
from .state_token import state_token_check

APP_STORE_MAX_MEMBERS = 3  # seed 004: a team bought through a mobile app store


class SubscriptionExists(RuleViolation):
    code = "subscription_exists"


class MaxSeatsExceeded(RuleViolation):
    code = "max_seats_exceeded"


class AppStoreCapReached(MaxSeatsExceeded):
    code = "app_store_member_cap"


def ensure_fresh(*, organization: Organization, on: dt.date, expected_token: str | None) -> None:
    """Refuse a confirmation whose preview no longer matches (call under the subscription lock)."""
    state_token_check(
        expected_token=expected_token, current_token=state_token(organization=organization, on=on)
    )


@transaction.atomic(savepoint=False)
def invoice_issue(
    *,
    organization: Organization,
    subscription: Subscription | None,
    reason: str,
    lines: list[L.LineDraft],
    currency: str,
    issued_on: dt.date,
    at: dt.datetime,
    bill_to: Organization | None = None,
) -> Invoice | None:
    """Price `lines` and issue them as an invoice (invoices.services), linked to `subscription`
    in the same transaction; once it commits, payments charge it. None when every line is
    zero (a zero line is left out of a document).

    Addressed to the organization's current bill-to party unless the caller names one: its
    partner under an internal agreement (seed 003), else the organization itself; taxed by
    that party's country and VAT ID.
    """
    lines = L.without_zero_lines(lines)
    if not lines:
        return None
    if bill_to is None:
        bill_to = bill_to_for(organization)
    treatment = tax_treatment(
        seller_country=settings.SELLER_COUNTRY,
        customer_country=bill_to.country,
        customer_vat_id=bill_to.vat_id,
    )
    invoice = documents.invoice_issue(
        organization=organization,
        reason=reason,
        lines=lines,
        totals=L.totals(lines, treatment.rate),
        tax_kind=treatment.kind,
        currency=currency,
        issued_on=issued_on,
        at=at,
        bill_to=bill_to,
    )
    if subscription is not None:
        SubscriptionInvoice.objects.create(
            invoice=invoice,
            organization_id=subscription.organization_id,
            subscription=subscription,
            reason=invoice.reason,
            issued_on=invoice.issued_on,
        )
    events.publish(events.INVOICE_ISSUED, invoice=invoice)
    return invoice


def credit_note_issue(
    *,
    invoice: Invoice,
    lines: list[L.LineDraft],
    issued_on: dt.date,
    at: dt.datetime,
    reason: str = "seat_removal",
) -> CreditNote | None:
    """Price `lines` at the tax rate of `invoice` and issue them as a credit note correcting it
    (invoices.services); None when every line is zero."""
    lines = L.without_zero_lines(lines)
    if not lines:
        return None
    credit_note = documents.credit_note_issue(
        invoice=invoice,
        lines=lines,
        totals=L.totals(lines, Decimal(invoice.tax_rate)),
        issued_on=issued_on,
        at=at,
        reason=reason,
    )
    events.publish(events.CREDIT_NOTE_ISSUED, credit_note=credit_note)
    return credit_note


def _actor_label(actor) -> str:
    return getattr(actor, "email", "") or getattr(actor, "username", "") or "system"


# Seat items ---------------------------------------------------------------------------


def seat_item_current(*, subscription: Subscription, interval: str, on: dt.date) -> SeatItem:
    """The paid-seat item of `interval`, created on first use with the period that holds `on`."""
    item = SeatItem.objects.filter(subscription=subscription, interval=interval).first()
    if item is None:
        start, end = period_containing(subscription.anchor, interval, on)
        item = SeatItem.objects.create(
            organization_id=subscription.organization_id,
            subscription=subscription,
            interval=interval,
            quantity=0,
            period_start=start,
            period_end=end,
        )
    return item


def seat_quantity_set(
    *,
    subscription: Subscription,
    item: SeatItem,
    quantity: int,
    on: dt.date,
    at: dt.datetime,
    reason: str,
    actor=None,
    items: list[SeatItem] | None = None,
    changed: tuple[str, ...] = (),
) -> None:
    """Set an item's paid seats and append the change to the seat ledger.

    `changed` names other fields of `item` the caller set, saved in the same UPDATE.
    `items`: every seat item of the subscription as read under its lock (`item` among
    them); the ledger's total is then summed from them instead of read back.
    """
    delta = quantity - item.quantity
    if delta == 0 and reason != SeatLedgerEntry.Reason.START:
        if changed:
            item.save(update_fields=list(changed))
        return
    item.quantity = quantity
    item.save(update_fields=[*changed, "quantity"])
    if items is None:
        total = seats_total(subscription=subscription)
    else:
        total = subscription.plan.included_seats + sum(i.quantity for i in items)
    entry = SeatLedgerEntry.objects.create(
        organization_id=subscription.organization_id,
        subscription=subscription,
        interval=item.interval,
        effective_on=on,
        delta=delta,
        quantity_after=quantity,
        total_seats_after=total,
        reason=reason,
        actor_label=_actor_label(actor),
        created_at=at,
    )
    if delta:
        events.publish(events.SEATS_CHANGED, entry=entry)


def check_max_seats(*, subscription: Subscription, adding: int) -> None:
    plan = subscription.plan
    total = seats_total(subscription=subscription) + adding
    if plan.max_seats is not None and total > plan.max_seats:
        raise MaxSeatsExceeded(
            _(
                "%(plan)s allows at most %(max)s seats; this would make %(total)s. "
                "Contact sales for a larger plan."
            )
            % {"plan": plan.name, "max": plan.max_seats, "total": total}
        )


# Lines --------------------------------------------------------------------------------


def _seat_line(
    *, subscription: Subscription, item: SeatItem, count: int, on: dt.date, credit: bool
) -> L.LineDraft:
    """`count` seats of `item` prorated from `on`: what they pay for, or (credit) give back."""
    plan = subscription.plan
    portion = (credit_portion if credit else charge_portion)(
        proration=plan.proration,
        anchor=subscription.anchor,
        interval=item.interval,
        period_start=item.period_start,
        period_end=item.period_end,
        on=on,
    )
    return L.LineDraft(
        kind=L.PRORATION,
        description=L.describe_proration(
            count, portion.fraction, item.interval, portion.start, portion.end, credit=credit
        ),
        quantity=count,
        unit_price_minor=plan.seat_price_for(item.interval),
        fraction=portion.fraction,
        period_start=portion.start,
        period_end=portion.end,
        interval=item.interval,
    )


def seat_charge_line(*, subscription: Subscription, item: SeatItem, count: int, on: dt.date) -> L.LineDraft:
    return _seat_line(subscription=subscription, item=item, count=count, on=on, credit=False)


def seat_credit_line(*, subscription: Subscription, item: SeatItem, count: int, on: dt.date) -> L.LineDraft:
    return _seat_line(subscription=subscription, item=item, count=count, on=on, credit=True)


def pending_line(charge: PendingCharge) -> L.LineDraft:
    """The invoice line a pending charge becomes."""
    return L.LineDraft(
        kind=charge.kind,
        description=charge.description,
        quantity=charge.quantity,
        unit_price_minor=charge.unit_price_minor,
        fraction=Fraction(charge.fraction_numerator, charge.fraction_denominator),
        period_start=charge.period_start,
        period_end=charge.period_end,
        interval=charge.interval,
        unit=charge.unit,
    )


def _pending_record(*, subscription: Subscription, line: L.LineDraft, on: dt.date, invoice_on) -> None:
    PendingCharge.objects.create(
        organization_id=subscription.organization_id,
        subscription=subscription,
        kind=line.kind,
        description=line.description,
        interval=line.interval,
        unit=line.unit,
        quantity=line.quantity,
        unit_price_minor=line.unit_price_minor,
        fraction_numerator=line.fraction.numerator,
        fraction_denominator=line.fraction.denominator,
        period_start=line.period_start,
        period_end=line.period_end,
        created_on=on,
        invoice_on=invoice_on,
    )


# Charges and credits ------------------------------------------------------------------


def pending_invoice_on(*, plan: Plan, on: dt.date) -> dt.date | None:
    """When a pending seat charge made on `on` is invoiced: next_day, the day after; else
    (next_invoice) on the next renewal invoice, None."""
    return on + dt.timedelta(days=1) if plan.seat_invoicing == Plan.SeatInvoicing.NEXT_DAY else None


def seat_charges_record(
    *, subscription: Subscription, lines: list[L.LineDraft], on: dt.date, at: dt.datetime
) -> Invoice | None:
    """Invoice mid-period seat charges as the plan's `seat_invoicing` says.

    immediate: a seat_change invoice on `on`; next_day: pending, invoiced on `on + 1`
    (on the renewal invoice when that is a renewal day); next_invoice: pending until the
    next renewal invoice.
    """
    lines = L.without_zero_lines(lines)
    if not lines:
        return None
    timing = subscription.plan.seat_invoicing
    if timing == Plan.SeatInvoicing.IMMEDIATE:
        return invoice_issue(
            organization=subscription.organization,
            subscription=subscription,
            reason=Reason.SEAT_CHANGE,
            lines=lines,
            currency=subscription.plan.currency,
            issued_on=on,
            at=at,
        )
    invoice_on = pending_invoice_on(plan=subscription.plan, on=on)
    for line in lines:
        _pending_record(subscription=subscription, line=line, on=on, invoice_on=invoice_on)
    return None


def latest_seat_invoice(*, subscription: Subscription) -> Invoice | None:
    """The latest invoice that charged seats (or units): the one a removal's credit note corrects.

    Latest by id: a subscription's invoices may belong to two parties (a partner, then the
    client), whose sequences are not comparable.
    """
    return (
        subscription_invoices(subscription=subscription)
        .filter(lines__kind__in=[L.SEATS, L.UNITS, L.PRORATION])
        .order_by("-pk")
        .first()
    )


def seat_credits_record(
    *, subscription: Subscription, lines: list[L.LineDraft], on: dt.date, at: dt.datetime
):
    """A removal credit: a credit note on `on` correcting the latest invoice that charged seats.

    When no invoice has charged seats yet (the seats are still pending on a next_day or
    next_invoice plan), the credit nets against those pending charges instead, as a
    negative pending line on the same invoice.
    """
    lines = L.without_zero_lines(lines)
    if not lines:
        return None
    invoice = latest_seat_invoice(subscription=subscription)
    if invoice is not None:
        return credit_note_issue(invoice=invoice, lines=lines, issued_on=on, at=at)
    for line in lines:
        negative = L.LineDraft(**{**line.__dict__, "quantity": -line.quantity})
        # Invoiced with the charges it nets against, never on a document of its own.
        _pending_record(
            subscription=subscription,
            line=negative,
            on=on,
            invoice_on=pending_invoice_on(plan=subscription.plan, on=on),
        )
    return None


# Subscription lifecycle ---------------------------------------------------------------


def _base_and_seat_lines(
    *, subscription: Subscription, items: list[SeatItem], include_base: bool
) -> list[L.LineDraft]:
    plan = subscription.plan
    lines = []
    if include_base:
        lines.append(
            L.LineDraft(
                kind=L.BASE,
                description=L.describe_base(
                    plan.name, subscription.current_period_start, subscription.current_period_end
                ),
                quantity=1,
                unit_price_minor=plan.base_price_minor,
                fraction=Fraction(1),
                period_start=subscription.current_period_start,
                period_end=subscription.current_period_end,
                interval=plan.interval,
            )
        )
    for item in items:
        lines.append(
            L.LineDraft(
                kind=L.SEATS,
                description=L.describe_seats(
                    item.quantity, item.interval, item.period_start, item.period_end
                ),
                quantity=item.quantity,
                unit_price_minor=plan.seat_price_for(item.interval),
                fraction=Fraction(1),
                period_start=item.period_start,
                period_end=item.period_end,
                interval=item.interval,
            )
        )
    return lines


@transaction.atomic
def subscription_create(
    *,
    organization: Organization,
    plan: Plan,
    start_on: dt.date,
    at: dt.datetime,
    seats: int = 0,
    committed_seats: int = 0,
    acting_user=None,
    source: str = Subscription.Source.WEB,
    units: dict[str, int] | None = None,
) -> Subscription:
    """Start a subscription on `start_on` (its anchor) and invoice the first period in advance.

    Seats start at max(seats, included, committed, members); members beyond the included
    seats take paid seats on the plan's interval. `units` ({code: count}) are created at the
    start; each unit type is billed at max(created, included, committed) (billing.units).
    """
    if seats > MAX_SEATS:
        raise RuleViolation(
            _("A subscription starts with at most %(max)s seats.") % {"max": MAX_SEATS},
            code="invalid_count",
            field="seats",
        )
    Organization.objects.select_for_update().get(pk=organization.pk)
    if subscription_live(organization=organization) is not None:
        raise SubscriptionExists("This organization already has a subscription; change its plan instead.")
    members = active_members(organization=organization)
    member_count = members.count()
    total = max(seats, plan.included_seats, committed_seats, member_count)
    if plan.max_seats is not None and total > plan.max_seats:
        raise MaxSeatsExceeded(f"{plan.name} allows at most {plan.max_seats} seats, not {total}.")
    if source == Subscription.Source.APP_STORE and member_count > APP_STORE_MAX_MEMBERS:
        raise AppStoreCapReached(app_store_cap_message())
    period_start, period_end = period_containing(start_on, plan.interval, start_on)
    subscription = Subscription.objects.create(
        organization=organization,
        plan=plan,
        anchor=start_on,
        current_period_start=period_start,
        current_period_end=period_end,
        committed_seats=committed_seats,
        source=source,
        created_at=at,
    )
    item = seat_item_current(subscription=subscription, interval=plan.interval, on=start_on)
    seat_quantity_set(
        subscription=subscription,
        item=item,
        quantity=total - plan.included_seats,
        on=start_on,
        at=at,
        reason=SeatLedgerEntry.Reason.START,
        actor=acting_user,
    )
    if plan.has_seat_intervals:
        # Members beyond the included seats pay on the plan's own interval.
        beyond = list(members.order_by("joined_at", "id")[plan.included_seats :])
        members.filter(pk__in=[m.pk for m in beyond]).update(seat_interval=plan.interval)
    if units:
        unit_billing.units_at_start(
            subscription=subscription, counts=units, on=start_on, at=at, actor_label=_actor_label(acting_user)
        )
    invoice_issue(
        organization=organization,
        subscription=subscription,
        reason=Reason.SUBSCRIPTION_CREATE,
        lines=_base_and_seat_lines(subscription=subscription, items=[item], include_base=True)
        + unit_billing.units_start_lines(subscription=subscription),
        currency=plan.currency,
        issued_on=start_on,
        at=at,
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="subscription.create",
        at=at,
        target=plan.code,
        details={"seats": total, "start_on": start_on.isoformat()},
    )
    return subscription


def subscription_start_free(
    *, organization: Organization, on: dt.date, at: dt.datetime, acting_user=None
) -> Subscription | None:
    """Start a new organization on the catalogue's free plan; None when the catalogue has none
    (the owner then chooses the plan to start with)."""
    plan = free_plan(currency=organization.currency)
    if plan is None:
        return None
    return subscription_create(
        organization=organization, plan=plan, start_on=on, at=at, acting_user=acting_user
    )


def _renewal_quantity(*, subscription: Subscription, item: SeatItem, members: dict[str, int]) -> int:
    plan = subscription.plan
    if plan.renewal_seats == Plan.RenewalSeats.KEEP:
        return item.quantity
    if plan.has_seat_intervals:
        return members.get(item.interval, 0)
    in_use = max(sum(members.values()), subscription.committed_seats, plan.included_seats)
    return in_use - plan.included_seats


# Every renewal reads the subscription's seat items and open pending charges: plain SQL, the ORM
# took several times PostgreSQL's answer to build each (docs/performance.md).
_PENDING_OPEN_SQL = (
    f"SELECT {sql.select_list(PendingCharge, 'c')} FROM billing_pendingcharge c"
    " WHERE c.subscription_id = %s AND c.invoice_id IS NULL ORDER BY c.created_on, c.id"
)
_SEAT_ITEMS_SQL = (
    f"SELECT {sql.select_list(SeatItem, 'i')} FROM billing_seatitem i"
    " WHERE i.subscription_id = %s ORDER BY i.id"
)


def _pending_open(subscription: Subscription) -> list[PendingCharge]:
    """The pending charges not yet invoiced, in the order they are invoiced."""
    return _instances(PendingCharge, _PENDING_OPEN_SQL, subscription)


def _seat_items(subscription: Subscription) -> list[SeatItem]:
    """The subscription's seat items, in id order."""
    return _instances(SeatItem, _SEAT_ITEMS_SQL, subscription)


def _instances(model, statement: str, subscription: Subscription) -> list:
    alias = router.db_for_read(model)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, [subscription.pk])
        return [sql.instance(model, alias, row) for row in cursor.fetchall()]


def _due_pending(pending: list[PendingCharge], on: dt.date, *, renewal: bool) -> list[PendingCharge]:
    """Of the open charges, those due on `on`; a renewal also takes the next_invoice ones."""
    return [
        charge
        for charge in pending
        if (charge.invoice_on <= on if charge.invoice_on is not None else renewal)
    ]


def _interval_changes_apply(
    *, subscription: Subscription, day: dt.date, renewing: set[str], at: dt.datetime
) -> set[str]:
    """Members whose scheduled interval change falls due with this renewal of their old
    interval move to the new one (docs/billing.md rule 19), before the renewal counts each
    interval's members. A change whose member left, or moved onto an included seat, in the
    meantime is void. Returns the intervals members moved to."""
    if not subscription.plan.has_seat_intervals:
        return set()
    changes = SeatIntervalChange.objects.filter(
        subscription=subscription,
        status=SeatIntervalChange.Status.SCHEDULED,
        effective_on__lte=day,
        from_interval__in=renewing,
    ).select_related("membership__user")
    moved_to = set()
    for change in changes:
        membership = change.membership
        if membership.removed_at is None and membership.seat_interval == change.from_interval:
            Membership.objects.filter(pk=membership.pk).update(seat_interval=change.to_interval)
            change.status = SeatIntervalChange.Status.APPLIED
            moved_to.add(change.to_interval)
        else:
            change.status = SeatIntervalChange.Status.VOID
        change.resolved_at = at
        change.save(update_fields=["status", "resolved_at"])
        audit_record(
            organization=subscription.organization,
            actor=None,
            action="membership.seat_interval_change_applied",
            at=at,
            target=membership.user.email or str(membership.user),
            details={
                "from": change.from_interval,
                "to": change.to_interval,
                "on": day.isoformat(),
                "status": change.status,
            },
        )
    return moved_to


def _seats_for_moved_members(
    *,
    subscription: Subscription,
    intervals: set[str],
    members: dict[str, int],
    day: dt.date,
    at: dt.datetime,
    items: list[SeatItem],
) -> list[L.LineDraft]:
    """Seats for members who moved to `intervals` today: an unused paid seat of the interval is
    reused; else one is bought for the rest of that interval's current period (from the anchor),
    prorated like a member added today, on today's renewal invoice. When the interval renews
    today too, its renewal already counted them (in_use) and this is the full period (keep).

    `items` are the subscription's seat items in hand; an item created here joins them."""
    lines = []
    for interval in sorted(intervals):
        item = next((i for i in items if i.interval == interval), None)
        if item is None:
            item = seat_item_current(subscription=subscription, interval=interval, on=day)
            items.append(item)
        missing = members.get(interval, 0) - item.quantity
        if missing <= 0:
            continue
        lines.append(seat_charge_line(subscription=subscription, item=item, count=missing, on=day))
        seat_quantity_set(
            subscription=subscription,
            item=item,
            quantity=item.quantity + missing,
            on=day,
            at=at,
            reason=SeatLedgerEntry.Reason.AUTO_PURCHASE,
            items=items,
        )
    return lines


def _renew_on(
    *,
    subscription: Subscription,
    day: dt.date,
    at: dt.datetime,
    renew_base: bool,
    items: list[SeatItem],
    pending: list[PendingCharge],
) -> Invoice | None:
    """The renewal on `day`, and its invoice (None: every line was zero); `items` and
    `pending` (the open charges) are kept up to date."""
    plan = subscription.plan
    due = _due_pending(pending, day, renewal=True)
    if renew_base and (subscription.cancel_at_period_end or not subscription.auto_renew):
        subscription.status = Subscription.Status.CANCELED
        subscription.canceled_on = day
        subscription.save(update_fields=["status", "canceled_on"])
        audit_record(
            organization=subscription.organization,
            actor=None,
            action="subscription.cancel",
            at=at,
            target=plan.code,
            details={"on": day.isoformat(), "why": "cancel at period end"},
        )
        lines, reason, renewing = [pending_line(c) for c in due], Reason.SEAT_CHANGE, []
    else:
        renewing = [i for i in items if i.period_end == day]
        moved_to = _interval_changes_apply(
            subscription=subscription, day=day, renewing={i.interval for i in renewing}, at=at
        )
        # Counted only when something reads them: `keep` renews the paid seats as they are.
        if moved_to or (renewing and plan.renewal_seats != Plan.RenewalSeats.KEEP):
            members = members_by_interval(organization=subscription.organization)
        else:
            members = {}
        for item in renewing:
            item.period_start, item.period_end = period_containing(subscription.anchor, item.interval, day)
            seat_quantity_set(
                subscription=subscription,
                item=item,
                quantity=_renewal_quantity(subscription=subscription, item=item, members=members),
                on=day,
                at=at,
                reason=SeatLedgerEntry.Reason.RENEWAL,
                items=items,
                changed=("period_start", "period_end"),
            )
        if renew_base:
            subscription.current_period_start, subscription.current_period_end = period_containing(
                subscription.anchor, plan.interval, day
            )
            subscription.save(update_fields=["current_period_start", "current_period_end"])
            events.publish(events.SUBSCRIPTION_RENEWED, subscription=subscription, on=day, at=at)
        lines = _base_and_seat_lines(subscription=subscription, items=renewing, include_base=renew_base)
        if renew_base and getattr(subscription, "plan_has_unit_types", True):
            lines += unit_billing.units_renewal_lines(subscription=subscription)
        lines += _seats_for_moved_members(
            subscription=subscription, intervals=moved_to, members=members, day=day, at=at, items=items
        )
        if not L.without_zero_lines(lines):
            # A renewal issues an invoice only when it bills something of its own (the base
            # price, paid seats or units of a renewing interval): next_invoice charges wait for
            # the next renewal invoice actually issued, and the day's next_day charges are a
            # seat_change invoice as on any other day (billing-rules.md, seat_invoicing).
            return _invoice_pending(subscription=subscription, day=day, at=at, pending=pending)
        lines += [pending_line(c) for c in due]
        reason = Reason.SUBSCRIPTION_CYCLE
    invoice = invoice_issue(
        organization=subscription.organization,
        subscription=subscription,
        reason=reason,
        lines=lines,
        currency=plan.currency,
        issued_on=day,
        at=at,
    )
    _pending_invoiced(pending, due, invoice)
    return invoice


def _pending_invoiced(
    pending: list[PendingCharge], due: list[PendingCharge], invoice: Invoice | None
) -> None:
    """Mark the `due` charges invoiced on `invoice` and take them out of the open ones.

    No invoice (every line was zero): they stay open, as they are in the database."""
    if invoice is None or not due:
        return
    PendingCharge.objects.filter(pk__in=[c.pk for c in due]).update(invoice=invoice)
    for charge in due:
        pending.remove(charge)


def _invoice_pending(
    *, subscription: Subscription, day: dt.date, at: dt.datetime, pending: list[PendingCharge]
) -> Invoice | None:
    """The next_day charges due on `day` (no renewal): a seat_change invoice, if they net to a
    charge; `pending` (the open charges) is kept up to date."""
    due = _due_pending(pending, day, renewal=False)
    net = sum(pending_line(charge).amount_minor for charge in due)
    if net == 0:
        # A seat added and given back before either was invoiced: they cancel out, no document.
        PendingCharge.objects.filter(pk__in=[c.pk for c in due]).delete()
        for charge in due:
            pending.remove(charge)
        return None
    if net < 0:
        # A credit is never a seat_change invoice: it waits for the next renewal invoice.
        PendingCharge.objects.filter(pk__in=[c.pk for c in due]).update(invoice_on=None)
        for charge in due:
            charge.invoice_on = None
        return None
    invoice = invoice_issue(
        organization=subscription.organization,
        subscription=subscription,
        reason=Reason.SEAT_CHANGE,
        lines=[pending_line(c) for c in due],
        currency=subscription.plan.currency,
        issued_on=day,
        at=at,
    )
    _pending_invoiced(pending, due, invoice)
    return invoice


def _next_due_day(
    subscription: Subscription, items: list[SeatItem], pending: list[PendingCharge], on: dt.date
) -> dt.date | None:
    candidates = [subscription.current_period_end]
    candidates += [item.period_end for item in items]
    candidates += [charge.invoice_on for charge in pending if charge.invoice_on is not None]
    due = [day for day in candidates if day <= on]
    return min(due) if due else None


def next_due_on(*, subscription: Subscription) -> dt.date | None:
    """The next day the renewal has work for (a period that renews, pending charges due), for
    a subscription brought up to date; None once it is canceled."""
    if subscription.status == Subscription.Status.CANCELED:
        return None
    items, pending = _seat_items(subscription), _pending_open(subscription)
    candidates = [subscription.current_period_end]
    candidates += [item.period_end for item in items]
    candidates += [charge.invoice_on for charge in pending if charge.invoice_on is not None]
    return min(candidates)


@dataclass(frozen=True)
class Renewal:
    """What one call of `subscription_renewal_run` itself did: the invoices it issued and
    whether it canceled the subscription. Another renewer that got the row lock first did
    the work it would have done: then both are empty."""

    subscription: Subscription
    invoices: tuple[Invoice, ...]
    canceled: bool


def subscription_renew(*, subscription: Subscription, on: dt.date, at: dt.datetime) -> Subscription:
    """Bring a subscription up to date on `on` (`subscription_renewal_run`); the subscription."""
    return subscription_renewal_run(subscription=subscription, on=on, at=at).subscription


@transaction.atomic
def subscription_renewal_run(*, subscription: Subscription, on: dt.date, at: dt.datetime) -> Renewal:
    """Bring a subscription up to date on `on`: every renewal and pending charge due by then.

    Works through the due days in order (so a scheduler that was down catches up with one
    document per day, as if it had run each day). On a day where the plan's period or any
    seat interval renews, one subscription_cycle invoice carries the base line, a seats line
    per renewing interval and the pending charges; otherwise the pending next_day charges
    become a seat_change invoice. Idempotent: calling it again for the same day issues
    nothing, because every step moves the periods or marks the charges invoiced under the
    subscription's row lock.
    """
    # Lock the subscription row only: a bare FOR UPDATE would lock the joined plan and
    # organization rows too, serializing every customer on the plan.
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "organization")
        .prefetch_related("plan__seat_prices")
        # In the same statement: whether the renewal has units to bill (billing.units), so a
        # plan without unit types renews without one more query.
        .annotate(plan_has_unit_types=Exists(PlanUnitType.objects.filter(plan=OuterRef("plan"))))
        .get(pk=subscription.pk)
    )
    # Read once, under the lock: each day's work changes seat items and pending charges only
    # through these lists (and no one else can meanwhile), so they stay what the database holds.
    items = _seat_items(subscription)
    pending = _pending_open(subscription)
    was_canceled = subscription.status == Subscription.Status.CANCELED
    issued = []
    while subscription.status != Subscription.Status.CANCELED:
        day = _next_due_day(subscription, items, pending, on)
        if day is None:
            break
        renew_base = subscription.current_period_end == day
        if renew_base or any(item.period_end == day for item in items):
            invoice = _renew_on(
                subscription=subscription,
                day=day,
                at=at,
                renew_base=renew_base,
                items=items,
                pending=pending,
            )
        else:
            invoice = _invoice_pending(subscription=subscription, day=day, at=at, pending=pending)
        if invoice is not None:
            issued.append(invoice)
    canceled = not was_canceled and subscription.status == Subscription.Status.CANCELED
    return Renewal(subscription=subscription, invoices=tuple(issued), canceled=canceled)


def subscription_bring_up_to_date(*, organization: Organization, on: dt.date, at: dt.datetime):
    """Lock the live subscription and renew it first: 'on a renewal day the renewal happens first'."""
    subscription = subscription_live(organization=organization, lock=True)
    if subscription is None:
        return None
    return subscription_renew(subscription=subscription, on=on, at=at)


# Plan changes -------------------------------------------------------------------------


class RenewalChangeRefused(RuleViolation):
    code = "renewal_change_refused"


def _live_locked(*, organization: Organization) -> Subscription:
    subscription = subscription_live(organization=organization, lock=True)
    if subscription is None:
        raise RenewalChangeRefused(_("This organization has no subscription yet."))
    return subscription


@transaction.atomic
def subscription_cancel_at_period_end(*, organization: Organization, at: dt.datetime, acting_user=None):
    """Stop the subscription renewing: it ends on its period's last day (the renewal cancels it
    instead of invoicing the next period) unless it is resumed before then."""
    subscription = _live_locked(organization=organization)
    if subscription.cancel_at_period_end:
        return subscription
    subscription.cancel_at_period_end = True
    subscription.save(update_fields=["cancel_at_period_end"])
    audit_record(
        organization=organization,
        actor=acting_user,
        action="subscription.cancel_at_period_end",
        at=at,
        target=subscription.plan.code,
        details={"ends_on": subscription.current_period_end.isoformat()},
    )
    return subscription


@transaction.atomic
def subscription_resume(*, organization: Organization, at: dt.datetime, acting_user=None):
    """Undo a cancellation at period end: the subscription renews again."""
    subscription = _live_locked(organization=organization)
    if not subscription.cancel_at_period_end:
        return subscription
    subscription.cancel_at_period_end = False
    subscription.save(update_fields=["cancel_at_period_end"])
    audit_record(
        organization=organization,
        actor=acting_user,
        action="subscription.resume",
        at=at,
        target=subscription.plan.code,
        details={"renews_on": subscription.current_period_end.isoformat()},
    )
    return subscription


class PlanChangeRefused(RuleViolation):
    code = "plan_change_refused"


@transaction.atomic
def subscription_switch_to_web(*, organization: Organization, at: dt.datetime, acting_user=None):
    """Move a team subscribed from the mobile app store to a web subscription (seed 004): from
    then on it has no 3-member cap and changes plan here. Its plan, period and seats stay as
    they are; the next invoices are ours. Owners only (the view's capability); audited."""
    subscription = _live_locked(organization=organization)
    if subscription.source == Subscription.Source.WEB:
        raise RuleViolation(_("This subscription is already a web subscription."), code="already_web")
    subscription.source = Subscription.Source.WEB
    subscription.save(update_fields=["source"])
    audit_record(
        organization=organization,
        actor=acting_user,
        action="subscription.switch_to_web",
        at=at,
        target=subscription.plan.code,
        details={"from": Subscription.Source.APP_STORE.value, "to": Subscription.Source.WEB.value},
    )
    return subscription


@dataclass(frozen=True)
class PlanSwitchRefusal:
    """Why a subscription cannot move to a plan now, and the way out the reader is offered:
    remove `remove_members` members first, contact sales, or switch to a web subscription."""

    code: str
    message: str
    remove_members: int = 0
    contact_sales: bool = False
    switch_to_web: bool = False


def app_store_cap_message() -> str:
    """Seed 004's note on a team subscribed from the mobile app."""
    return _(
        "A team subscribed from the mobile app has at most %(count)s members (the team admin "
        "and %(others)s others). To add more members, switch to a web subscription."
    ) % {"count": APP_STORE_MAX_MEMBERS, "others": APP_STORE_MAX_MEMBERS - 1}


def plan_switch_refusal(
    *, subscription: Subscription, plan: Plan, members_of: str = ""
) -> PlanSwitchRefusal | None:
    """Why the subscription cannot move to `plan` now (a plan change or a handover), or None.

    A team on a pooled plan (the free team) may move to a plan with per-member intervals (seed
    004: "upgrade a free team to Pro or Max in the web app"); its members beyond the included
    seats then pay on the plan's own interval. Leaving a plan with per-member intervals is
    done by sales. `members_of` names whose members are counted when that is not the reader.
    """
    old = subscription.plan
    if subscription.source == Subscription.Source.APP_STORE:
        return PlanSwitchRefusal(
            code="app_store",
            message=_(
                "This team is subscribed from the mobile app. To change its plan, switch to a "
                "web subscription first."
            ),
            switch_to_web=True,
        )
    if old.has_seat_intervals and plan.pk != old.pk:
        return PlanSwitchRefusal(
            code="per_member_intervals",
            message=_("Moving off a plan with per-member billing intervals is arranged by our sales team."),
            contact_sales=True,
        )
    if plan.has_seat_intervals and subscription.committed_seats:
        return PlanSwitchRefusal(
            code="commitment",
            message=_(
                "%(plan)s has no minimum commitment and your contract has one; our sales team "
                "arranges this change."
            )
            % {"plan": plan.name},
            contact_sales=True,
        )
    if old.unit_types.exists() or plan.unit_types.exists():
        # docs/billing.md rule 20: what a change does to units other than seats is not specified.
        return PlanSwitchRefusal(
            code="units",
            message=_("Plans that bill units other than seats are changed by our support team; contact us."),
            contact_sales=True,
        )
    if plan.currency != old.currency:
        return PlanSwitchRefusal(
            code="currency",
            message=_("%(plan)s is billed in %(currency)s, the subscription in %(old)s.")
            % {"plan": plan.name, "currency": plan.currency, "old": old.currency},
            contact_sales=True,
        )
    members = active_members(organization=subscription.organization).count()
    if plan.max_seats is not None and members > plan.max_seats:
        values = {
            "plan": plan.name,
            "max": plan.max_seats,
            "members": members,
            "extra": members - plan.max_seats,
        }
        if members_of:
            message = _(
                "%(plan)s allows at most %(max)s members and %(name)s has %(members)s. "
                "Remove %(extra)s first, or choose a larger plan."
            ) % {**values, "name": members_of}
        else:
            message = (
                _(
                    "%(plan)s allows at most %(max)s members and you have %(members)s. "
                    "Remove %(extra)s first, or choose a larger plan."
                )
                % values
            )
        return PlanSwitchRefusal(code="too_many_members", message=message, remove_members=values["extra"])
    return None


def plan_switch_problem(*, subscription: Subscription, plan: Plan, members_of: str = "") -> str | None:
    """Why a partner's handover or handback cannot move the subscription to `plan`, or None:
    `plan_switch_refusal`'s message, and a plan with per-member intervals either way (the
    settlement prices one pool of seats)."""
    if plan.has_seat_intervals and plan.pk != subscription.plan_id:
        return _("Plans with per-member billing intervals are changed by our support team; contact us.")
    refusal = plan_switch_refusal(subscription=subscription, plan=plan, members_of=members_of)
    return refusal.message if refusal else None


def seats_on_plan(*, subscription: Subscription, plan: Plan) -> int:
    """Seats carried over to `plan`: raised to its included seats and the commitment, lowered to its cap."""
    total = max(seats_total(subscription=subscription), plan.included_seats, subscription.committed_seats)
    return total if plan.max_seats is None else min(total, plan.max_seats)


def seats_needed_on_plan(*, subscription: Subscription, plan: Plan) -> int:
    """Seats a plan change carries over: what the members need (never paid seats nobody holds),
    raised to the new plan's included seats and the commitment, lowered to its cap."""
    members = active_members(organization=subscription.organization).count()
    total = max(members, plan.included_seats, subscription.committed_seats)
    return total if plan.max_seats is None else min(total, plan.max_seats)


def plan_lines(
    *, plan: Plan, billable: int, fraction: Fraction, start: dt.date, end: dt.date, sign: int, what: str
) -> list[L.LineDraft]:
    """A plan's base and seats for [start, end) at `fraction` of its period; sign -1 credits them."""
    fraction_text = "1" if fraction == 1 else f"{fraction.numerator}/{fraction.denominator}"
    period = L.describe_period(start, end)
    lines = [
        L.LineDraft(
            kind=L.PRORATION,
            description=f"{what}: {plan.name} × {fraction_text}, {period}",
            quantity=sign,
            unit_price_minor=plan.base_price_minor,
            fraction=fraction,
            period_start=start,
            period_end=end,
            interval=plan.interval,
        )
    ]
    if billable:
        lines.append(
            L.LineDraft(
                kind=L.PRORATION,
                description=f"{what}: {billable} seats of {plan.name} × {fraction_text}, {period}",
                quantity=sign * billable,
                unit_price_minor=plan.seat_price_for(plan.interval),
                fraction=fraction,
                period_start=start,
                period_end=end,
                interval=plan.interval,
            )
        )
    return lines


def subscription_move_to_plan(
    *,
    subscription: Subscription,
    plan: Plan,
    start: dt.date,
    end: dt.date,
    seats: int,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
) -> None:
    """Put the subscription on `plan` with the period [start, end) and `seats` seats in all
    (plan change and partner handover; the money is the caller's)."""
    old = subscription.plan
    subscription.plan = plan
    subscription.current_period_start, subscription.current_period_end = start, end
    subscription.save(update_fields=["plan", "anchor", "current_period_start", "current_period_end"])
    item = subscription.seat_items.filter(interval=old.interval).first() or seat_item_current(
        subscription=subscription, interval=old.interval, on=on
    )
    item.interval, item.period_start, item.period_end = plan.interval, start, end
    item.save(update_fields=["interval", "period_start", "period_end"])
    seat_quantity_set(
        subscription=subscription,
        item=item,
        quantity=seats - plan.included_seats,
        on=on,
        at=at,
        reason=SeatLedgerEntry.Reason.PLAN_CHANGE,
        actor=acting_user,
    )


@transaction.atomic
def plan_change(
    *,
    organization: Organization,
    plan: Plan,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
    expected_token: str | None = None,
) -> Subscription:
    """Move the subscription to `plan` on `on`, at once.

    The unused part of the old plan (base and billable seats) is credited and the new plan
    charged for the rest of the period, by day. A change of interval starts a new period
    on `on` (the new plan is charged in full). One `plan_change` invoice when the net is a
    charge; a credit note to the balance when it is a credit. The seats carried over are what
    the members need (`seats_needed_on_plan`), raised to the new plan's included seats and the
    commitment; `plan_switch_refusal` says which moves are refused (a plan whose max seats is
    below the members, an app-store subscription, ...). Limits below the current usage are
    the caller's to confirm (`usage.services.plan_change_confirmed`). An organization without
    a subscription starts one on `plan`.
    """
    subscription = subscription_bring_up_to_date(organization=organization, on=on, at=at)
    ensure_fresh(organization=organization, on=on, expected_token=expected_token)
    if subscription is None:
        # An organization without a subscription (no free plan in the catalogue) starts on `plan`.
        return subscription_create(
            organization=organization, plan=plan, start_on=on, at=at, acting_user=acting_user
        )
    old = subscription.plan
    if plan.pk == old.pk:
        raise PlanChangeRefused(_("You are already on %(plan)s.") % {"plan": plan.name})
    refusal = plan_switch_refusal(subscription=subscription, plan=plan)
    if refusal:
        raise PlanChangeRefused(refusal.message)
    old_total = seats_total(subscription=subscription)
    new_total = seats_needed_on_plan(subscription=subscription, plan=plan)
    start, end = subscription.current_period_start, subscription.current_period_end
    unused = day_fraction(period_start=start, period_end=end, on=on)
    lines = plan_lines(
        plan=old,
        billable=old_total - old.included_seats,
        fraction=unused,
        start=on,
        end=end,
        sign=-1,
        what="Unused time",
    )
    if plan.interval != old.interval:
        subscription.anchor = on
        start, end = period_containing(on, plan.interval, on)
        charged = Fraction(1)
    else:
        charged = unused
    lines += plan_lines(
        plan=plan,
        billable=new_total - plan.included_seats,
        fraction=charged,
        start=on,
        end=end,
        sign=1,
        what="Remaining time",
    )
    subscription_move_to_plan(
        subscription=subscription,
        plan=plan,
        start=start,
        end=end,
        seats=new_total,
        on=on,
        at=at,
        acting_user=acting_user,
    )
    if plan.has_seat_intervals:
        # Members fill the included seats first; those beyond pay on the plan's own interval.
        members = active_members(organization=organization)
        beyond = [m.pk for m in members.order_by("joined_at", "id")[plan.included_seats :]]
        members.exclude(pk__in=beyond).update(seat_interval="")
        members.filter(pk__in=beyond).update(seat_interval=plan.interval)
    lines = L.without_zero_lines(lines)
    net = sum(line.amount_minor for line in lines)
    if net > 0:
        invoice_issue(
            organization=organization,
            subscription=subscription,
            reason=Reason.PLAN_CHANGE,
            lines=lines,
            currency=plan.currency,
            issued_on=on,
            at=at,
        )
    elif net < 0:
        corrected = subscription_invoices(subscription=subscription).order_by("-pk").first()
        credit_note_issue(
            invoice=corrected,
            lines=[_negated(line) for line in lines],
            issued_on=on,
            at=at,
            reason="plan_change",
        )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="subscription.plan_change",
        at=at,
        target=plan.code,
        details={"from": old.code, "to": plan.code, "on": on.isoformat()},
    )
    events.publish(
        events.SUBSCRIPTION_PLAN_CHANGED, subscription=subscription, from_plan=old, to_plan=plan, on=on, at=at
    )
    return subscription


def _negated(line: L.LineDraft) -> L.LineDraft:
    """On a credit note, credits are positive and charges negative."""
    return L.LineDraft(**{**line.__dict__, "quantity": -line.quantity})
