"""Playing a billing scenario on a test clock through the real services (`manage.py simulate`).

The scenario format is ../shared/docs/simulate.md. Each day from `start` to `until` is
played in order: the day's renewal first (`subscription_renew`), then its actions through
the same seat services the dashboard and API call. Nothing here computes money.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from billing import unit_services
from billing.domain.money import format_amount, parse_amount
from billing.domain.periods import INTERVALS, INTERVALS_LONGEST_FIRST
from billing.domain.proration import PRORATIONS
from billing.models import Plan, PlanSeatPrice, PlanUnitType, Subscription, UnitItem
from billing.selectors import active_members, seats_total
from billing.services import subscription_create, subscription_renew
from billing.units import units_created
from invoices.exchange_rates import simulated_rates_ensure
from invoices.models import CreditNote, Invoice
from invoices.services import credit_balance_minor
from organizations import services as org_services
from organizations.errors import RuleViolation
from organizations.models import Organization, Role
from seats import services as seat_services


class ScenarioInvalid(ValueError):
    """The scenario itself is wrong (exit 2), as opposed to an action the rules refuse."""


ACTIONS = {"buy_seats", "add_members", "remove_members", "create_units", "delete_units"}
UNIT_ACTIONS = {"create_units", "delete_units"}
PLAN_CHOICES = {
    "interval": INTERVALS,
    "seat_mode": tuple(Plan.SeatMode.values),
    "seat_removal": tuple(Plan.SeatRemoval.values),
    "renewal_seats": tuple(Plan.RenewalSeats.values),
    "seat_invoicing": tuple(Plan.SeatInvoicing.values),
    "proration": PRORATIONS,
}


def _date(value, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ScenarioInvalid(f"{where}: {value!r} is not a date (YYYY-MM-DD).") from None


def _count(value, where: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ScenarioInvalid(f"{where}: expected a whole number >= {minimum}, got {value!r}.")
    return value


def _plan_from(spec: dict) -> Plan:
    if not isinstance(spec, dict):
        raise ScenarioInvalid("plan: expected an object.")
    for key, choices in PLAN_CHOICES.items():
        if spec.get(key) not in choices:
            raise ScenarioInvalid(f"plan.{key}: {spec.get(key)!r} is not one of {', '.join(choices)}.")
    currency = spec.get("currency", "EUR")
    try:
        base = parse_amount(spec.get("base_price", "0"), currency)
        seat = parse_amount(spec.get("seat_price", "0"), currency)
        intervals = {k: parse_amount(v, currency) for k, v in (spec.get("seat_intervals") or {}).items()}
    except (TypeError, ValueError) as error:
        raise ScenarioInvalid(f"plan: {error}") from None
    if any(k not in INTERVALS for k in intervals):
        raise ScenarioInvalid(f"plan.seat_intervals: intervals are {', '.join(INTERVALS)}.")
    if spec["interval"] == "week" and spec["proration"] == "month":
        raise ScenarioInvalid("plan: month proration needs a monthly or yearly interval.")
    code = str(spec.get("code") or "simulated")
    suffix = 1
    while Plan.objects.filter(code=code).exists():
        suffix += 1
        code = f"{spec.get('code') or 'simulated'}-{suffix}"
    max_seats = spec.get("max_seats")
    plan = Plan.objects.create(
        code=code,
        name=str(spec.get("name") or code),
        currency=currency,
        interval=spec["interval"],
        base_price_minor=base,
        seat_price_minor=seat,
        included_seats=_count(spec.get("included_seats", 0), "plan.included_seats"),
        max_seats=None if max_seats is None else _count(max_seats, "plan.max_seats"),
        seat_mode=spec["seat_mode"],
        seat_removal=spec["seat_removal"],
        renewal_seats=spec["renewal_seats"],
        seat_invoicing=spec["seat_invoicing"],
        proration=spec["proration"],
        is_public=False,
    )
    for interval, price in intervals.items():
        PlanSeatPrice.objects.create(plan=plan, interval=interval, unit_price_minor=price)
    for unit_code, unit in _unit_types_from(spec, currency).items():
        PlanUnitType.objects.create(plan=plan, code=unit_code, name=unit_code.replace("_", " "), **unit)
    return plan


def _unit_types_from(spec: dict, currency: str) -> dict[str, dict]:
    """plan.unit_types: {"phone_numbers": {"price": "10.00", "included": 0, "committed": 5, "max": 20}}."""
    unit_types = spec.get("unit_types") or {}
    if not isinstance(unit_types, dict):
        raise ScenarioInvalid("plan.unit_types: expected an object of unit types.")
    fields = {}
    for unit_code, unit in unit_types.items():
        where = f"plan.unit_types.{unit_code}"
        if not isinstance(unit, dict) or not str(unit_code).replace("_", "").isalnum():
            raise ScenarioInvalid(f"{where}: expected an object under a code of letters, digits and _.")
        unknown = set(unit) - {"price", "included", "committed", "max"}
        if unknown:
            raise ScenarioInvalid(f"{where}: unknown {', '.join(sorted(unknown))}.")
        try:
            price = parse_amount(unit.get("price", "0"), currency)
        except (TypeError, ValueError) as error:
            raise ScenarioInvalid(f"{where}.price: {error}") from None
        included = _count(unit.get("included", 0), f"{where}.included")
        committed = _count(unit.get("committed", 0), f"{where}.committed")
        max_units = None if unit.get("max") is None else _count(unit["max"], f"{where}.max")
        if max_units is not None and max_units < max(included, committed):
            raise ScenarioInvalid(f"{where}.max: below the included or committed units.")
        fields[unit_code] = {
            "unit_price_minor": price,
            "included": included,
            "committed": committed,
            "max_units": max_units,
        }
    return fields


@dataclass
class Clock:
    """Simulated instants: midnight UTC of the played day, a microsecond apart per step."""

    day: dt.date
    tick: int = 0

    def at(self) -> dt.datetime:
        self.tick += 1
        base = dt.datetime.combine(self.day, dt.time(0, 0), tzinfo=dt.UTC)
        return base + dt.timedelta(microseconds=self.tick)


@dataclass
class Simulation:
    organization: Organization
    subscription: Subscription
    owner: object
    refused: list = field(default_factory=list)
    people: int = 0

    def new_users(self, count: int) -> list:
        users = []
        User = get_user_model()
        for _ in range(count):
            self.people += 1
            email = f"member{self.people}@{self.organization.slug}.sim.invalid"
            users.append(User.objects.create(username=email, email=email))
        return users


def _members_to_remove(sim: Simulation, count: int, seat: str | None) -> list:
    """Who leaves: the latest joiners of the asked seat kind; owners only as a last resort."""
    members = list(
        active_members(organization=sim.organization).select_related("user").order_by("-joined_at", "-id")
    )
    if count > len(members):
        raise ScenarioInvalid(f"remove_members: {count} members asked, only {len(members)} present.")
    if seat is None:
        free = [m for m in members if m.seat_interval == ""]
        ordered = free + [
            m for interval in INTERVALS_LONGEST_FIRST for m in members if m.seat_interval == interval
        ]
    else:
        wanted = "" if seat == "free" else seat
        ordered = [m for m in members if m.seat_interval == wanted]
        if len(ordered) < count:
            raise ScenarioInvalid(f"remove_members: only {len(ordered)} members on a {seat!r} seat.")
    ordered.sort(key=lambda m: m.role == Role.OWNER)  # stable: non-owners first
    return ordered[:count]


def _play(sim: Simulation, action: dict, on: dt.date, clock: Clock) -> None:
    kind = action["do"]
    count = _count(action.get("count", 1), f"{on} {kind}.count", minimum=1)
    org = sim.organization
    if kind in UNIT_ACTIONS:
        _play_units(sim, action, kind, count, on, clock)
    elif kind == "buy_seats":
        seat_services.seat_purchase(
            organization=org,
            count=count,
            on=on,
            at=clock.at(),
            acting_user=sim.owner,
            interval=action.get("interval", ""),
        )
    elif kind == "add_members":
        users = sim.new_users(count)
        seat_services.members_add(
            organization=org,
            users=users,
            role=Role.MEMBER,
            on=on,
            at=clock.at(),
            acting_user=sim.owner,
            seat_interval=action.get("interval", ""),
        )
    else:
        leaving = _members_to_remove(sim, count, action.get("seat"))
        seat_services.members_remove(
            organization=org, memberships=leaving, on=on, at=clock.at(), acting_user=sim.owner
        )


def _play_units(sim: Simulation, action: dict, kind: str, count: int, on: dt.date, clock: Clock) -> None:
    code = action.get("unit")
    if kind == "create_units":
        unit_services.units_create(
            organization=sim.organization, code=code, count=count, on=on, at=clock.at(), acting_user=sim.owner
        )
        return
    present = units_created(organization_id=sim.organization.pk).get(code, 0)
    if count > present:
        raise ScenarioInvalid(f"delete_units: {count} {code} asked, only {present} exist.")
    unit_services.units_delete(
        organization=sim.organization, code=code, count=count, on=on, at=clock.at(), acting_user=sim.owner
    )


def _line_json(line, currency: str) -> dict:
    fraction = f"{line.fraction_numerator}/{line.fraction_denominator}"
    unit = {"unit": line.unit} if line.unit else {}
    return {
        "kind": line.kind,
        "description": line.description,
        "quantity": line.quantity,
        "unit_amount": format_amount(line.unit_price_minor, currency),
        "fraction": "1" if line.fraction_numerator == line.fraction_denominator else fraction,
        "amount": format_amount(line.amount_minor, currency),
        "period_start": line.period_start.isoformat(),
        "period_end": line.period_end.isoformat(),
        **unit,
    }


def _rate(value) -> str:
    text = format(value.normalize(), "f")
    return text


def documents_json(organization: Organization) -> list[dict]:
    """Invoices and credit notes in the order issued."""
    docs = []
    for inv in Invoice.objects.filter(organization=organization).prefetch_related("lines"):
        docs.append(
            (
                (inv.created_at, 0, inv.sequence),
                {
                    "type": "invoice",
                    "number": inv.number,
                    "issued_on": inv.issued_on.isoformat(),
                    "reason": inv.reason,
                    "lines": [_line_json(line, inv.currency) for line in inv.lines.all()],
                    "subtotal": format_amount(inv.subtotal_minor, inv.currency),
                    "tax_rate": _rate(inv.tax_rate),
                    "tax": format_amount(inv.tax_minor, inv.currency),
                    "total": format_amount(inv.total_minor, inv.currency),
                    "credit_applied": format_amount(inv.credit_applied_minor, inv.currency),
                    "amount_due": format_amount(inv.amount_due_minor, inv.currency),
                },
            )
        )
    for note in (
        CreditNote.objects.filter(organization=organization)
        .select_related("invoice")
        .prefetch_related("lines")
    ):
        docs.append(
            (
                (note.created_at, 1, note.pk),
                {
                    "type": "credit_note",
                    "number": note.number,
                    "invoice": note.invoice.number,
                    "issued_on": note.issued_on.isoformat(),
                    "lines": [_line_json(line, note.currency) for line in note.lines.all()],
                    "subtotal": format_amount(note.subtotal_minor, note.currency),
                    "tax_rate": _rate(note.tax_rate),
                    "tax": format_amount(note.tax_minor, note.currency),
                    "total": format_amount(note.total_minor, note.currency),
                },
            )
        )
    return [doc for _, doc in sorted(docs, key=lambda pair: pair[0])]


def _validate(scenario: dict) -> tuple[dt.date, dt.date, list]:
    if not isinstance(scenario, dict):
        raise ScenarioInvalid("A scenario is a JSON object.")
    start = _date(scenario.get("start"), "start")
    until = _date(scenario.get("until"), "until")
    if until < start:
        raise ScenarioInvalid("until is before start.")
    plan = scenario.get("plan")
    unit_types = plan.get("unit_types") if isinstance(plan, dict) else None
    unit_codes = sorted(unit_types) if isinstance(unit_types, dict) else []
    actions = scenario.get("actions", [])
    if not isinstance(actions, list):
        raise ScenarioInvalid("actions: expected a list.")
    for index, action in enumerate(actions):
        if not isinstance(action, dict) or action.get("do") not in ACTIONS:
            raise ScenarioInvalid(f"actions[{index}]: 'do' must be one of {', '.join(sorted(ACTIONS))}.")
        on = _date(action.get("on"), f"actions[{index}].on")
        if not start <= on <= until:
            raise ScenarioInvalid(f"actions[{index}]: {on} is outside {start} .. {until}.")
        if "interval" in action and action["interval"] not in INTERVALS:
            raise ScenarioInvalid(f"actions[{index}].interval: one of {', '.join(INTERVALS)}.")
        if "seat" in action and action["seat"] not in ("free", *INTERVALS):
            raise ScenarioInvalid(f"actions[{index}].seat: 'free' or an interval.")
        if action["do"] in UNIT_ACTIONS and action.get("unit") not in unit_codes:
            raise ScenarioInvalid(
                f"actions[{index}].unit: one of the plan's unit types ({', '.join(unit_codes)})."
            )
    units = scenario.get("units") or {}
    if not isinstance(units, dict) or any(code not in unit_codes for code in units):
        raise ScenarioInvalid(f"units: counts of the plan's unit types ({', '.join(unit_codes)}).")
    for code, count in units.items():
        _count(count, f"units.{code}")
    customer = scenario.get("customer") or {}
    if not isinstance(customer, dict) or not str(customer.get("country", "DK")).isalpha():
        raise ScenarioInvalid("customer.country: a two-letter country code.")
    return start, until, actions


def _organization_for(scenario: dict, owner, at: dt.datetime) -> Organization:
    customer = scenario.get("customer") or {}
    code = "CUST0001"
    if Organization.objects.filter(customer_code=code).exists():
        code = None
    organization = org_services.organization_create(
        name="Simulated customer",
        owner=owner,
        at=at,
        country=str(customer.get("country", "DK")).upper(),
        vat_id=customer.get("vat_id") or "",
        legal_name="Simulated Customer ApS",
    )
    if code:
        Organization.objects.filter(pk=organization.pk).update(customer_code=code)
        organization.refresh_from_db()
    return organization


def run_scenario(scenario: dict, *, keep: bool = False, after_each_step=None) -> dict:
    """Play `scenario`; `after_each_step(subscription, day, clock)` runs after every renewal and action."""
    start, until, actions = _validate(scenario)
    clock = Clock(start)

    class Rollback(Exception):
        pass

    result: dict = {}
    try:
        with transaction.atomic():
            plan = _plan_from(scenario.get("plan"))
            simulated_rates_ensure(on=start, at=clock.at())
            User = get_user_model()
            owner_email = f"owner-{Organization.objects.count() + 1}-{plan.code}@sim.invalid"
            owner = User.objects.create(username=owner_email, email=owner_email)
            organization = _organization_for(scenario, owner, clock.at())
            members = _count(scenario.get("members", 1), "members", minimum=1)
            seats = _count(scenario.get("seats", 0), "seats")
            committed = _count(scenario.get("committed_seats", 0), "committed_seats")
            try:
                subscription = subscription_create(
                    organization=organization,
                    plan=plan,
                    start_on=start,
                    at=clock.at(),
                    seats=max(seats, members),
                    committed_seats=committed,
                    acting_user=owner,
                    units={code: n for code, n in (scenario.get("units") or {}).items() if n},
                )
            except RuleViolation as error:
                raise ScenarioInvalid(f"The subscription cannot start: {error.message}") from None
            sim = Simulation(organization, subscription, owner)
            if members > 1:
                seat_services.members_add(
                    organization=organization,
                    users=sim.new_users(members - 1),
                    role=Role.MEMBER,
                    on=start,
                    at=clock.at(),
                    acting_user=owner,
                )
            day = start
            while day <= until:
                clock.day, clock.tick = day, 0
                subscription_renew(subscription=subscription, on=day, at=clock.at())
                if after_each_step:
                    after_each_step(subscription, day, clock)
                for action in (a for a in actions if a["on"] == day.isoformat()):
                    try:
                        with transaction.atomic():
                            _play(sim, action, day, clock)
                    except RuleViolation as error:
                        sim.refused.append({"on": day.isoformat(), "do": action["do"], "code": error.code})
                    if after_each_step:
                        after_each_step(subscription, day, clock)
                day += dt.timedelta(days=1)
            subscription.refresh_from_db()
            result = {
                "documents": documents_json(organization),
                "refused": sim.refused,
                "final": {
                    "seats": seats_total(subscription=subscription),
                    "members": active_members(organization=organization).count(),
                    "credit_balance": format_amount(
                        credit_balance_minor(organization=organization, currency=plan.currency), plan.currency
                    ),
                    "period_start": subscription.current_period_start.isoformat(),
                    "period_end": subscription.current_period_end.isoformat(),
                },
            }
            unit_codes = list(plan.unit_types.values_list("code", flat=True))
            if unit_codes:
                created = units_created(organization_id=organization.pk)
                billed = dict(
                    UnitItem.objects.filter(subscription=subscription).values_list("code", "billed")
                )
                result["final"]["units"] = {
                    code: {"created": created.get(code, 0), "billed": billed.get(code, 0)}
                    for code in unit_codes
                }
            if keep:
                result["organization_id"] = organization.pk
                result["organization_slug"] = organization.slug
            else:
                raise Rollback
    except Rollback:
        pass
    return result


def load_scenario(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise ScenarioInvalid(f"Cannot read {path}: {error.strerror}.") from None
    except json.JSONDecodeError as error:
        raise ScenarioInvalid(f"{path} is not valid JSON: {error}.") from None
