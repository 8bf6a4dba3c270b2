"""Reads of units other than seats (seed 001): per unit type, what exists and what is paid
for; the live units; what creating some would invoice (a preview)."""

import datetime as dt
from dataclasses import dataclass

from billing.preview import Preview, preview_run
from organizations.models import Organization

from . import unit_services
from .models import PlanUnitType, Unit, UnitItem
from .selectors import subscription_live
from .units import billable, units_created


@dataclass(frozen=True)
class UnitTypeSummary:
    unit_type: PlanUnitType
    created: int  # the units that exist now
    billed: int  # paid for in the current period
    currency: str

    @property
    def code(self) -> str:
        return self.unit_type.code

    @property
    def name(self) -> str:
        return self.unit_type.name

    @property
    def included(self) -> int:
        """Included in the plan: the included units and the contract's minimum, billed even when unused."""
        return self.unit_type.floor

    @property
    def additional(self) -> int:
        """Paid for beyond the included ones."""
        return max(0, self.billed - self.included)

    @property
    def free(self) -> int:
        """Paid for and not in use: the next units created take these at no charge."""
        return max(0, self.billed - self.created)

    @property
    def billable(self) -> int:
        return billable(self.unit_type, self.billed)

    @property
    def max_units(self) -> int | None:
        return self.unit_type.max_units


def unit_summaries(*, organization: Organization) -> list[UnitTypeSummary]:
    """Each unit type of the organization's plan, in code order; empty without a subscription."""
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return []
    unit_types = list(subscription.plan.unit_types.order_by("code"))
    if not unit_types:
        return []
    created = units_created(organization_id=organization.pk)
    billed = dict(UnitItem.objects.filter(subscription=subscription).values_list("code", "billed"))
    return [
        UnitTypeSummary(
            unit_type=unit_type,
            created=created.get(unit_type.code, 0),
            billed=billed.get(unit_type.code, max(unit_type.floor, created.get(unit_type.code, 0))),
            currency=subscription.plan.currency,
        )
        for unit_type in unit_types
    ]


def units_list(*, organization: Organization, code: str | None = None):
    """The organization's live units, oldest first, optionally of one type."""
    units = Unit.objects.filter(organization=organization, deleted_at__isnull=True)
    if code:
        units = units.filter(code=code)
    return units.order_by("created_at", "id")


def unit_get(*, organization: Organization, unit_id: int) -> Unit | None:
    return units_list(organization=organization).filter(pk=unit_id).first()


def units_create_preview(
    *,
    organization: Organization,
    code: str,
    on: dt.date,
    at: dt.datetime,
    count: int | None = None,
    labels: list[str] | None = None,
) -> Preview:
    """What creating the units would invoice now (or put on a later invoice), rolled back."""
    return preview_run(
        organization=organization,
        action="units_create",
        on=on,
        at=at,
        run=lambda: unit_services.units_create(
            organization=organization, code=code, count=count, labels=labels, on=on, at=at
        ),
    )
