"""Creating and deleting units other than seats (seed 001: phone numbers): the writes.

The only entry points for units (the seats page, the API, `simulate`). Each runs under the
subscription's row lock, brings the subscription up to date first (a renewal due today
happens before the day's actions), and is refused whole with a rule code when it would
break a rule: nothing changes. billing-rules.md, "Units other than seats":

- creating a unit beyond `billed` buys one, prorated and invoiced exactly like a seat bought
  that day (the plan's `proration` and `seat_invoicing`); more than `max` is refused whole
  with `max_units_exceeded`;
- deleting follows `plan.seat_removal`: `none` keeps it paid until renewal and the next unit
  created reuses it at no charge; `credit` gives billed units back down to
  `max(created, committed, included)` with a credit note, like seats.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Organization

from . import services as engine
from . import units as unit_billing
from .models import Plan, PlanUnitType, Subscription, Unit

MAX_UNITS_PER_REQUEST = 1_000  # a sanity bound per request; plans cap units lower
LABEL_MAX_LENGTH = Unit._meta.get_field("label").max_length


@dataclass(frozen=True)
class UnitsChanged:
    """What one call created or deleted, and the document it issued then (None: nothing to
    invoice now, or a charge pending for a later invoice)."""

    units: list[Unit]
    invoice: object = None  # invoices.Invoice, on a create
    credit_note: object = None  # invoices.CreditNote, on a delete under `credit`


class UnitTypeUnknown(RuleViolation):
    code = "invalid_unit_type"  # the input names nothing the plan bills: 400 in the API


class UnitNotFound(RuleViolation):
    code = "not_found"


def _locked_subscription(*, organization: Organization, on: dt.date, at: dt.datetime) -> Subscription:
    subscription = engine.subscription_bring_up_to_date(organization=organization, on=on, at=at)
    if subscription is None:
        raise RuleViolation(
            _("This organization has no subscription yet; choose a plan first."), code="no_subscription"
        )
    return subscription


def _unit_type(subscription: Subscription, code: str) -> PlanUnitType:
    unit_type = subscription.plan.unit_types.filter(code=code).first()
    if unit_type is None:
        raise UnitTypeUnknown(
            _("%(plan)s has no unit type %(code)s.") % {"plan": subscription.plan.name, "code": code},
            field="unit",
        )
    return unit_type


def _clean_labels(
    *, organization: Organization, code: str, count: int | None, labels: list[str] | None
) -> list[str]:
    """The labels of the units to create: as given (stripped, each unique among the live
    units of the type), or `count` units without one."""
    if labels is None:
        if count is None or count < 1:
            raise RuleViolation(_("Create at least one unit."), code="invalid_count", field="count")
        if count > MAX_UNITS_PER_REQUEST:
            raise RuleViolation(
                _("Create at most %(max)s units at a time.") % {"max": MAX_UNITS_PER_REQUEST},
                code="invalid_count",
                field="count",
            )
        return [""] * count
    cleaned = [str(label).strip() for label in labels]
    if not cleaned or len(cleaned) > MAX_UNITS_PER_REQUEST:
        raise RuleViolation(
            _("Give between 1 and %(max)s labels.") % {"max": MAX_UNITS_PER_REQUEST},
            code="invalid_count",
            field="labels",
        )
    for label in cleaned:
        if not label or len(label) > LABEL_MAX_LENGTH:
            raise RuleViolation(
                _("A label has 1 to %(max)s characters.") % {"max": LABEL_MAX_LENGTH},
                code="invalid_label",
                field="labels",
            )
    taken = set(
        Unit.objects.filter(
            organization=organization, code=code, deleted_at__isnull=True, label__in=cleaned
        ).values_list("label", flat=True)
    )
    duplicates = taken | {label for label in cleaned if cleaned.count(label) > 1}
    if duplicates:
        raise RuleViolation(
            _("%(labels)s already exists.") % {"labels": ", ".join(sorted(duplicates))},
            code="duplicate_label",
            field="labels",
        )
    return cleaned


@transaction.atomic
def units_create(
    *,
    organization: Organization,
    code: str,
    on: dt.date,
    at: dt.datetime,
    count: int | None = None,
    labels: list[str] | None = None,
    acting_user=None,
    expected_token: str | None = None,
) -> UnitsChanged:
    """Create units of the plan's unit type `code`: `labels` (one unit each) or `count` units.

    Units beyond the ones paid for are bought, prorated from `on` to the period's end and
    invoiced as the plan's `seat_invoicing` says; a deleted unit's paid slot is reused first.
    With `expected_token` (from a preview), refused as `preview_stale` if anything changed.
    """
    subscription = _locked_subscription(organization=organization, on=on, at=at)
    engine.ensure_fresh(organization=organization, on=on, expected_token=expected_token)
    unit_type = _unit_type(subscription, code)
    labels = _clean_labels(organization=organization, code=code, count=count, labels=labels)
    created = unit_billing.units_created(organization_id=organization.pk).get(code, 0)
    after = created + len(labels)
    if unit_type.max_units is not None and after > unit_type.max_units:
        raise unit_billing.MaxUnitsExceeded(
            ngettext(
                "%(plan)s allows at most %(max)s %(name)s; %(count)s exists, so %(asked)s more would make "
                "%(after)s.",
                "%(plan)s allows at most %(max)s %(name)s; %(count)s exist, so %(asked)s more would make "
                "%(after)s.",
                created,
            )
            % {
                "plan": subscription.plan.name,
                "max": unit_type.max_units,
                "name": unit_type.name,
                "count": created,
                "asked": len(labels),
                "after": after,
            },
            field="count",
        )
    item = unit_billing.unit_item_for(subscription=subscription, unit_type=unit_type, created=created)
    to_buy = max(0, after - item.billed)
    invoice = None
    if to_buy:
        line = unit_billing.proration_line(
            subscription=subscription, unit_type=unit_type, count=to_buy, on=on, credit=False
        )
        item.billed += to_buy
        item.save(update_fields=["billed"])
        invoice = engine.seat_charges_record(subscription=subscription, lines=[line], on=on, at=at)
    units = unit_billing.unit_rows_create(
        organization_id=organization.pk,
        code=code,
        labels=labels,
        on=on,
        at=at,
        actor_label=engine._actor_label(acting_user),
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="units.create",
        at=at,
        target=", ".join(label for label in labels if label)[:200],
        details={"unit": code, "count": len(labels), "bought": to_buy, "on": on.isoformat()},
    )
    return UnitsChanged(units=units, invoice=invoice)


@transaction.atomic
def units_delete(
    *,
    organization: Organization,
    code: str,
    on: dt.date,
    at: dt.datetime,
    unit_ids: list[int] | None = None,
    count: int | None = None,
    acting_user=None,
) -> UnitsChanged:
    """Delete the live units `unit_ids` of type `code` (or the `count` created last).

    Units that are not there (another organization's, deleted already, or more than exist)
    refuse the whole request: deleting more than exists is never a no-op. Under `none` the
    billed units stay paid until renewal; under `credit` they are given back down to
    max(created, committed, included) and the unused time is credited.
    """
    subscription = _locked_subscription(organization=organization, on=on, at=at)
    unit_type = _unit_type(subscription, code)
    live = Unit.objects.select_for_update().filter(
        organization=organization, code=code, deleted_at__isnull=True
    )
    if unit_ids is not None:
        wanted = set(unit_ids)
        units = list(live.filter(pk__in=wanted))
        if not wanted or len(units) != len(wanted):
            raise UnitNotFound(_("No such unit: it was deleted already or never existed."), field="unit")
    else:
        present = live.count()
        if count is None or count < 1 or count > present:
            raise UnitNotFound(
                _("Cannot delete %(count)s %(name)s: %(present)s exist.")
                % {"count": count, "name": unit_type.name, "present": present},
                code="invalid_count",
                field="count",
            )
        units = list(live.order_by("-created_at", "-id")[:count])
    Unit.objects.filter(pk__in=[u.pk for u in units]).update(deleted_on=on, deleted_at=at)
    for unit in units:
        unit.deleted_on, unit.deleted_at = on, at
    credit_note = None
    if subscription.plan.seat_removal == Plan.SeatRemoval.CREDIT:
        created = unit_billing.units_created(organization_id=organization.pk).get(code, 0)
        item = unit_billing.unit_item_for(subscription=subscription, unit_type=unit_type, created=created)
        keep = max(created, unit_type.floor)
        give_back = item.billed - keep
        if give_back > 0:
            line = unit_billing.proration_line(
                subscription=subscription, unit_type=unit_type, count=give_back, on=on, credit=True
            )
            item.billed = keep
            item.save(update_fields=["billed"])
            credit_note = engine.seat_credits_record(subscription=subscription, lines=[line], on=on, at=at)
    audit_record(
        organization=organization,
        actor=acting_user,
        action="units.delete",
        at=at,
        target=", ".join(unit.label for unit in units if unit.label)[:200],
        details={"unit": code, "count": len(units), "on": on.isoformat()},
    )
    return UnitsChanged(units=units, credit_note=credit_note)
