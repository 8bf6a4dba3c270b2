"""Selectors of the dashboard pages: one per page (or card), each returning a dataclass of
display-ready values in the reader's language, so templates never query and never format.

The dashboard adds no business rule: the numbers come from the usage, billing, seats and
invoices selectors, the prices of a change from the billing engine's previews (a dry run
of the real service), and every refusal from the services. What it decides is only how to
show them: compact numbers and percent, the meters' colours (usage.domain.usage_level) and
the plans the change-plan dialog suggests (billing.domain.recommendation).

The dashboard is the top layer (docs/architecture.md): it imports every app's selectors and
services, and no app imports it.
"""

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from billing import unit_selectors
from billing.domain import recommendation
from billing.domain.money import minor_unit
from billing.domain.periods import MONTH, WEEK, YEAR, period_index, period_start
from billing.models import Interval, Meter, Plan, Subscription
from billing.presentation import PreviewDocumentView, PreviewView, document_view, preview_view
from billing.preview import plan_change_preview, upcoming_invoices
from billing.selectors import plan_list, seat_summary, subscription_live
from billing.services import (
    PlanSwitchRefusal,
    app_store_cap_message,
    plan_switch_refusal,
    seats_needed_on_plan,
)
from invoices.models import Invoice
from invoices.selectors import document_rows
from invoices.services import credit_balance_minor
from organizations import formatting as fmt
from organizations.models import Membership, Organization
from organizations.tenancy import Capability, has_capability
from payments.gateway import payments_online
from seats.models import SeatWaiter
from seats.previews import seat_purchase_preview
from usage import domain as usage_domain
from usage.models import UsagePeriodTotal
from usage.selectors import (
    UsageOverview,
    cost_by_action,
    plan_over_limits,
    tokens_by_model,
    tokens_daily,
    usage_overview,
)

RECENT_INVOICES = 5

# What each meter is called on the usage card and what counts (seed 000).
METER_TEXT = {
    Meter.AI_TOKENS: (
        gettext_noop("AI tokens this billing period"),
        gettext_noop("Tokens depend on conversation length, answer complexity and the model used."),
    ),
    Meter.DOCUMENTS: (
        gettext_noop("Documents / products indexed"),
        gettext_noop("Uploaded documents, synced product catalogues, FAQ entries and web pages."),
    ),
    Meter.AGENTS: (gettext_noop("Agents"), gettext_noop("Configured AI assistants.")),
    Meter.SEATS: (gettext_noop("Seats"), gettext_noop("Invited users, one seat each.")),
}
INTERVAL_WORDS = {WEEK: gettext_noop("week"), MONTH: gettext_noop("month"), YEAR: gettext_noop("year")}
INTERVAL_ADVERBS = {
    WEEK: gettext_noop("weekly"),
    MONTH: gettext_noop("monthly"),
    YEAR: gettext_noop("yearly"),
}
INTERVAL_ORDER = {WEEK: 0, MONTH: 1, YEAR: 2}


RESETS_ON_DAY = gettext_noop("Resets on the %(day)s")


def _ordinal(day: int, *, english: bool) -> str:
    """1 -> '1st' in English; '1.' in Danish, German and Norwegian."""
    if not english:
        return f"{day}."
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def resets_text(resets_on: dt.date | None, interval: str | None, language: str) -> str:
    """'Resets on the 1st' for monthly periods; 'Resets on 1 Jan 2027' otherwise."""
    if resets_on is None:
        return ""
    if interval == MONTH:
        sentence = _(RESETS_ON_DAY)
        # The ordinal follows the sentence's language: English until the catalogue has it.
        english = sentence == RESETS_ON_DAY or fmt.document_language(language) == "en"
        return sentence % {"day": _ordinal(resets_on.day, english=english)}
    return _("Resets on %(date)s") % {"date": fmt.date(resets_on, language)}


def _price_text(amount_minor: int, currency: str, interval: str, language: str) -> str:
    """'€1,890.00/month excl. VAT'."""
    return _("%(price)s/%(interval)s excl. VAT") % {
        "price": fmt.money(amount_minor, currency, language),
        "interval": _(INTERVAL_WORDS.get(interval, interval)),
    }


# ---------------------------------------------------------------------------
# The usage card


@dataclass(frozen=True)
class MeterView:
    key: str
    label: str
    help: str
    used: str  # compact, localized: "200.0M"
    limit: str  # compact, or "Unlimited"
    percent: int | None  # whole percent, None when unlimited
    percent_text: str
    level: str  # "", "amber" or "red"
    bar_width: int  # 0-100, for the progress bar
    overage: str  # "" or the compact amount over the limit


@dataclass(frozen=True)
class UsageCard:
    plan_name: str
    resets_text: str
    resets_on_text: str
    overall_percent: int
    overall_text: str  # "0% used"
    overall_level: str
    meters: list[MeterView]
    # People waiting for a seat (SSO / SCIM); counted for owners only, who see the waiting
    # list: the seats meter then links to it.
    waiting_count: int = 0
    waiting_text: str = ""


def _meter_view(meter, language: str) -> MeterView:
    label, help_text = METER_TEXT.get(meter.meter, (meter.label, ""))
    percent = meter.percent
    return MeterView(
        key=meter.meter,
        label=_(label),
        help=_(help_text) if help_text else "",
        used=fmt.compact(meter.used, language),
        limit=_("Unlimited") if meter.limit is None else fmt.compact(meter.limit, language),
        percent=percent,
        percent_text="" if percent is None else fmt.percent(percent, language),
        level=usage_domain.usage_level(percent),
        bar_width=0 if percent is None else min(100, percent),
        overage=fmt.compact(meter.overage, language) if meter.overage else "",
    )


def usage_card(
    *, overview: UsageOverview, interval: str | None, language: str, waiting_count: int = 0
) -> UsageCard:
    overall = overview.overall_percent
    return UsageCard(
        plan_name=overview.plan_name or _("No plan"),
        resets_text=resets_text(overview.resets_on, interval, language),
        resets_on_text=fmt.date(overview.resets_on, language) if overview.resets_on else "",
        overall_percent=overall,
        overall_text=_("%(percent)s used") % {"percent": fmt.percent(overall, language)},
        overall_level=usage_domain.usage_level(overall),
        meters=[_meter_view(m, language) for m in overview.meters],
        waiting_count=waiting_count,
        waiting_text=(
            ngettext(
                "%(count)s person is waiting for a seat",
                "%(count)s people are waiting for a seat",
                waiting_count,
            )
            % {"count": fmt.number(waiting_count, language)}
            if waiting_count
            else ""
        ),
    )


def waiting_count(*, organization: Organization, membership: Membership) -> int:
    """How many wait for a seat, for a viewer who may see the waiting list (owners); else 0
    without a query."""
    if not has_capability(membership, Capability.MANAGE_PLAN):
        return 0
    return SeatWaiter.objects.filter(organization=organization).count()


def overview_usage_card(
    *, organization: Organization, on: dt.date, membership: Membership, language: str
) -> UsageCard:
    """The usage card alone (its HTMX refresh)."""
    subscription = subscription_live(organization=organization)
    interval = subscription.plan.interval if subscription else None
    return usage_card(
        overview=usage_overview(organization=organization, on=on),
        interval=interval,
        language=language,
        waiting_count=waiting_count(organization=organization, membership=membership),
    )


# ---------------------------------------------------------------------------
# The current plan card


@dataclass(frozen=True)
class PlanCard:
    has_plan: bool
    plan_name: str
    plan_code: str
    price_text: str  # "€1,890.00/month excl. VAT"
    seat_price_text: str  # "€30.00 per additional seat/month" or ""
    included_seats_text: str
    status_label: str
    status: str
    period_text: str  # "Renews on 1 Jun 2026" / "Ends on ..."
    seats_text: str  # "1 of 10 seats used"
    # Per-member intervals: the paid seats of each interval and their current period,
    # "2 seats, weekly, 15–22 Jun 2026"; [] when the plan's seats are one pool.
    seat_lines: list[str] = field(default_factory=list)


def plan_card(
    *, subscription: Subscription | None, seats_used: int, seats_total: int, language: str
) -> PlanCard:
    if subscription is None:
        return PlanCard(
            has_plan=False,
            plan_name=_("No plan"),
            plan_code="",
            price_text="",
            seat_price_text="",
            included_seats_text="",
            status_label="",
            status="",
            period_text="",
            seats_text="",
        )
    plan = subscription.plan
    interval_word = _(INTERVAL_WORDS.get(plan.interval, plan.interval))
    interval_prices = plan.seat_prices_by_interval()  # one query; empty: one pool of seats
    if interval_prices:
        prices = ", ".join(
            f"{fmt.money(price, plan.currency, language)}/{_(INTERVAL_WORDS.get(iv, iv))}"
            for iv, price in sorted(interval_prices.items())
        )
        seat_price_text = _("Additional seats: %(prices)s") % {"prices": prices}
    elif plan.seat_price_minor:
        seat_price_text = _("%(price)s per additional seat/%(interval)s") % {
            "price": fmt.money(plan.seat_price_minor, plan.currency, language),
            "interval": interval_word,
        }
    else:
        seat_price_text = ""
    if subscription.cancel_at_period_end or not subscription.auto_renew:
        period_text = _("Ends on %(date)s") % {"date": fmt.date(subscription.current_period_end, language)}
    else:
        period_text = _("Renews on %(date)s") % {"date": fmt.date(subscription.current_period_end, language)}
    seat_lines = []
    if interval_prices:
        for item in sorted(subscription.seat_items.all(), key=lambda i: INTERVAL_ORDER.get(i.interval, 9)):
            if not item.quantity:
                continue
            seat_lines.append(
                ngettext(
                    "%(count)s seat, %(interval)s, %(period)s",
                    "%(count)s seats, %(interval)s, %(period)s",
                    item.quantity,
                )
                % {
                    "count": fmt.number(item.quantity, language),
                    "interval": _(INTERVAL_ADVERBS.get(item.interval, item.interval)),
                    "period": fmt.date_range(item.period_start, item.period_end, language),
                }
            )
    return PlanCard(
        has_plan=True,
        plan_name=plan.name,
        plan_code=plan.code,
        price_text=_price_text(plan.base_price_minor, plan.currency, plan.interval, language),
        seat_price_text=seat_price_text,
        included_seats_text=ngettext(
            "%(count)s seat included", "%(count)s seats included", plan.included_seats
        )
        % {"count": fmt.number(plan.included_seats, language)},
        status_label=_(subscription.get_status_display()),
        status=subscription.status,
        period_text=period_text,
        seats_text=ngettext(
            "%(used)s of %(total)s seat used", "%(used)s of %(total)s seats used", seats_total
        )
        % {"used": fmt.number(seats_used, language), "total": fmt.number(seats_total, language)},
        seat_lines=seat_lines,
    )


def _seats_meter(overview: UsageOverview):
    return next((m for m in overview.meters if m.meter == Meter.SEATS), None)


def overview_plan_card(*, organization: Organization, on: dt.date, language: str) -> PlanCard:
    """The current plan card alone (its HTMX refresh)."""
    overview = usage_overview(organization=organization, on=on)
    seats = _seats_meter(overview)
    return plan_card(
        subscription=subscription_live(organization=organization),
        seats_used=seats.used if seats else 0,
        seats_total=(seats.limit or 0) if seats else 0,
        language=language,
    )


# ---------------------------------------------------------------------------
# Recent invoices


@dataclass(frozen=True)
class InvoiceRow:
    number: str
    issued_on_text: str
    amount_text: str  # in the reader's locale: "359,67 EUR" (da)
    status: str
    status_label: str
    pdf_token: str | None


def overview_invoice_rows(*, organization: Organization, language: str, limit: int = RECENT_INVOICES):
    """The latest invoices (not credit notes), newest first: one query."""
    rows = document_rows(organization=organization, kind="invoice")[:limit]
    return [
        InvoiceRow(
            number=row["doc_number"],
            issued_on_text=fmt.date(row["doc_issued_on"], language),
            amount_text=fmt.money(row["doc_total_minor"], row["doc_currency"], language),
            status=row["doc_status"],
            status_label=_(Invoice.Status(row["doc_status"]).label) if row["doc_status"] else "",
            pdf_token=row["doc_pdf_token"],
        )
        for row in rows
    ]


# ---------------------------------------------------------------------------
# The overview page


@dataclass(frozen=True)
class OrganizationOverview:
    organization: Organization
    role_label: str
    docs_url: str
    can_manage_plan: bool
    can_manage_members: bool
    can_view_invoices: bool
    usage: UsageCard
    plan: PlanCard
    invoices: list[InvoiceRow] | None  # None: the viewer may not see invoices


def organization_overview(
    *, organization: Organization, on: dt.date, membership: Membership, language: str, docs_url: str = ""
) -> OrganizationOverview:
    """Everything the overview shows, in a constant number of queries whatever the size:
    the subscription, the usage rollups (never raw events), the seat counts, the number of
    people waiting for a seat (owners) and five invoices."""
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    seats = _seats_meter(overview)
    can_view_invoices = has_capability(membership, Capability.VIEW_INVOICES)
    return OrganizationOverview(
        organization=organization,
        role_label=_(membership.get_role_display()),
        docs_url=docs_url,
        can_manage_plan=has_capability(membership, Capability.MANAGE_PLAN),
        can_manage_members=has_capability(membership, Capability.MANAGE_MEMBERS),
        can_view_invoices=can_view_invoices,
        usage=usage_card(
            overview=overview,
            interval=subscription.plan.interval if subscription else None,
            language=language,
            waiting_count=waiting_count(organization=organization, membership=membership),
        ),
        plan=plan_card(
            subscription=subscription,
            seats_used=seats.used if seats else 0,
            seats_total=(seats.limit or 0) if seats else 0,
            language=language,
        ),
        invoices=(
            overview_invoice_rows(organization=organization, language=language) if can_view_invoices else None
        ),
    )


# ---------------------------------------------------------------------------
# Change plan: the choices, and the preview of one


@dataclass(frozen=True)
class LimitText:
    label: str
    value: str
    exceeded: bool  # the organization's usage is above it now


@dataclass(frozen=True)
class PlanOption:
    code: str
    name: str
    description: str
    price_text: str
    seat_price_text: str
    included_seats_text: str
    limits: list[LimitText]
    is_current: bool
    fits: bool  # every limit covers today's usage with the headroom
    recommended: bool
    # Why the organization cannot move to this plan now ("" when it can), and the way out.
    unavailable_reason: str = ""
    remove_members: int = 0  # "remove N members first": a link to the members page
    contact_sales: bool = False  # "contact sales": a link to settings.SALES_URL
    switch_to_web: bool = False  # an app-store team: switch to a web subscription first

    @property
    def available(self) -> bool:
        return not self.unavailable_reason


@dataclass(frozen=True)
class PlanChoices:
    has_subscription: bool
    current_plan_name: str
    options: list[PlanOption]
    showing_all: bool
    hidden_count: int  # plans "See all plans" adds


def _needs(*, organization: Organization, subscription: Subscription | None, overview: UsageOverview, on):
    """What the organization uses per meter: AI tokens of the busier of this period and the
    last one (the current one may have just begun), today's counts of the others."""
    needs = {m.meter: m.used for m in overview.meters}
    if subscription is not None:
        plan = subscription.plan
        k = period_index(subscription.anchor, plan.interval, on)
        previous = period_start(subscription.anchor, plan.interval, k - 1)
        last_total = (
            UsagePeriodTotal.objects.filter(
                organization=organization, meter=usage_domain.AI_TOKENS, period_start=previous
            )
            .values_list("total", flat=True)
            .first()
        )
        needs[Meter.AI_TOKENS] = max(needs.get(Meter.AI_TOKENS, 0), last_total or 0)
    return needs


ALL_METERS = (Meter.AI_TOKENS, Meter.DOCUMENTS, Meter.AGENTS, Meter.SEATS)


def _plan_limits(plan: Plan) -> dict[str, int | None]:
    """Meter -> limit for every meter (None: unlimited); seats are capped by max_seats. From
    prefetched rows."""
    by_meter = {row.meter: row.limit for row in plan.limits.all()}
    limits = {meter: by_meter.get(meter) for meter in ALL_METERS}
    limits[Meter.SEATS] = plan.max_seats
    return limits


def _plan_terms(plan: Plan) -> recommendation.PlanTerms:
    return recommendation.PlanTerms(
        code=plan.code,
        interval=plan.interval,
        base_price_minor=plan.base_price_minor,
        seat_price_minor=plan.seat_price_minor,
        seat_prices_minor=tuple(plan.seat_prices_by_interval().values()),
        included_seats=plan.included_seats,
        limits=_plan_limits(plan),
        recommended_rank=plan.recommended_rank,
        display_order=plan.display_order,
    )


def _option(
    plan: Plan,
    *,
    needs: dict,
    current_code: str,
    recommended: bool,
    language: str,
    refusal: PlanSwitchRefusal | None = None,
) -> PlanOption:
    limits = _plan_limits(plan)
    texts = []
    for meter in ALL_METERS:
        limit = limits.get(meter)
        texts.append(
            LimitText(
                label=_(METER_TEXT[meter][0]),
                value=_("Unlimited") if limit is None else fmt.compact(limit, language),
                exceeded=limit is not None and needs.get(meter, 0) > limit,
            )
        )
    seat_price = 0 if plan.has_seat_intervals else plan.seat_price_minor
    return PlanOption(
        code=plan.code,
        name=plan.name,
        description=plan.description,
        price_text=_price_text(plan.base_price_minor, plan.currency, plan.interval, language),
        seat_price_text=(
            _("%(price)s per additional seat") % {"price": fmt.money(seat_price, plan.currency, language)}
            if seat_price
            else ""
        ),
        included_seats_text=ngettext(
            "%(count)s seat included", "%(count)s seats included", plan.included_seats
        )
        % {"count": fmt.number(plan.included_seats, language)},
        limits=texts,
        is_current=plan.code == current_code,
        fits=recommendation.covers(limits, needs),
        recommended=recommended,
        unavailable_reason=refusal.message if refusal else "",
        remove_members=refusal.remove_members if refusal else 0,
        contact_sales=refusal.contact_sales if refusal else False,
        switch_to_web=refusal.switch_to_web if refusal else False,
    )


def _refusals(subscription: Subscription | None, plans: list[Plan]) -> dict[str, PlanSwitchRefusal]:
    """The engine's reason for each plan the subscription cannot move to (none without one)."""
    if subscription is None:
        return {}
    refusals = {}
    for plan in plans:
        if plan.code == subscription.plan.code:
            continue
        refusal = plan_switch_refusal(subscription=subscription, plan=plan)
        if refusal is not None:
            refusals[plan.code] = refusal
    return refusals


def plan_choices(*, organization: Organization, on: dt.date, language: str, show_all: bool) -> PlanChoices:
    """The change-plan dialog: the current plan, then the cheapest public plans the
    organization can move to whose limits cover the usage with headroom (ties: the
    catalogue's recommended rank); all on request, each it cannot move to with the reason
    and the way out (the engine's `plan_switch_refusal`)."""
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    needs = _needs(organization=organization, subscription=subscription, overview=overview, on=on)
    current = subscription.plan if subscription else None
    currency = current.currency if current else organization.currency
    plans = [p for p in plan_list(public_only=True) if p.currency == currency]
    current_code = current.code if current else ""
    refusals = _refusals(subscription, plans)
    suggested_codes = recommendation.suggested_plans(
        [_plan_terms(p) for p in plans],
        needs=needs,
        members=needs.get(Meter.SEATS, 0),
        current_code=current_code,
        unavailable=set(refusals),
    )
    by_code = {p.code: p for p in plans}
    suggested = [by_code[code] for code in suggested_codes]
    if show_all:
        shown = list(plans)
        if current is not None and current_code not in {p.code for p in plans}:
            shown.insert(0, current)
    else:
        shown = ([current] if current is not None else []) + suggested
    options = [
        _option(
            plan,
            needs=needs,
            current_code=current_code,
            recommended=plan.code in suggested_codes,
            language=language,
            refusal=refusals.get(plan.code),
        )
        for plan in shown
    ]
    hidden = len({p.code for p in plans} - {o.code for o in options})
    return PlanChoices(
        has_subscription=subscription is not None,
        current_plan_name=current.name if current else "",
        options=options,
        showing_all=show_all,
        hidden_count=hidden,
    )


def plan_for_change(*, organization: Organization, code: str) -> Plan | None:
    """A plan the dialog offers (public) or the current one; None for any other code."""
    plan = plan_list(public_only=True).filter(code=code).first()
    if plan is not None:
        return plan
    subscription = subscription_live(organization=organization)
    if subscription is not None and subscription.plan.code == code:
        return subscription.plan
    return None


@dataclass(frozen=True)
class OverLimitRow:
    label: str
    used: str
    limit: str


@dataclass(frozen=True)
class PlanChangePreviewPage:
    plan: PlanOption
    current_plan_name: str
    preview: PreviewView
    # Meters over the new plan's limits at once (used vs new limit); confirming needs the
    # explicit "I accept" (usage.services.plan_change_confirmed refuses without it).
    over_limits: list[OverLimitRow] = field(default_factory=list)
    seats_carried_text: str = ""


def plan_change_preview_page(
    *, organization: Organization, plan: Plan, on: dt.date, at: dt.datetime, language: str
) -> PlanChangePreviewPage:
    """What changing to `plan` now issues, exactly (the engine's dry run), and its token."""
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    needs = _needs(organization=organization, subscription=subscription, overview=overview, on=on)
    current_code = subscription.plan.code if subscription else ""
    over = plan_over_limits(organization=organization, plan=plan, on=on) if subscription else []
    seats_carried = ""
    if subscription is not None and subscription.plan.code != plan.code:
        seats = seats_needed_on_plan(subscription=subscription, plan=plan)
        seats_carried = ngettext(
            "You keep %(count)s seat on %(plan)s: the seats your members need, with the ones it includes.",
            "You keep %(count)s seats on %(plan)s: the seats your members need, with the ones it includes.",
            seats,
        ) % {"count": fmt.number(seats, language), "plan": plan.name}
    return PlanChangePreviewPage(
        plan=_option(
            plan,
            needs=needs,
            current_code=current_code,
            recommended=False,
            language=language,
            refusal=_refusals(subscription, [plan]).get(plan.code),
        ),
        current_plan_name=subscription.plan.name if subscription else "",
        preview=preview_view(
            plan_change_preview(organization=organization, plan=plan, on=on, at=at),
            language=language,
        ),
        over_limits=[
            OverLimitRow(
                label=_(METER_TEXT[item.meter][0]),
                used=fmt.number(item.used, language),
                limit=fmt.number(item.limit, language),
            )
            for item in over
        ],
        seats_carried_text=seats_carried,
    )


# ---------------------------------------------------------------------------
# Seats (owners): units included vs. created (seed 001) and buying seats (seed 002)


@dataclass(frozen=True)
class UnitRow:
    unit_type: str
    created: int  # units that exist now (members holding a seat)
    included: int  # included in the plan or the contract's minimum: billed even when unused
    additional: int  # paid beyond the included ones
    total: int  # seats paid for: included + additional
    free: int  # paid seats nobody holds (the next new member takes one)
    code: str = ""  # a unit type's code; empty: seats


@dataclass(frozen=True)
class UnitListed:
    id: int
    label: str
    created_on_text: str


@dataclass(frozen=True)
class UnitTypeCard:
    """A unit type other than seats (seed 001: phone numbers): its units, created and deleted by owners."""

    code: str
    name: str
    price_text: str  # "€6.00 each per month"
    cap_text: str  # "At most 10." or ""
    room: int | None  # how many more may be created (None: no cap)
    units: list[UnitListed]
    removal_text: str


@dataclass(frozen=True)
class IntervalChoice:
    value: str
    label: str
    price_text: str


@dataclass(frozen=True)
class SeatsPage:
    organization: Organization
    has_subscription: bool
    plan_name: str
    units: list[UnitRow]
    seats_total: int
    seats_used: int
    max_seats: int | None
    seat_price_text: str
    intervals: list[IntervalChoice]  # per-member billing intervals; empty: one pool of seats
    period_end_text: str
    removal_text: str
    invoicing_text: str
    owners_warning: bool  # no free seat: new users cannot sign in or be provisioned
    unit_types: list[UnitTypeCard] = field(default_factory=list)


def _unit_type_cards(
    *, organization: Organization, plan: Plan, language: str, summaries
) -> list[UnitTypeCard]:
    interval = _(INTERVAL_WORDS.get(plan.interval, plan.interval))
    if plan.seat_removal == Plan.SeatRemoval.NONE:
        removal_text = _(
            "A deleted one is not refunded: it stays paid until the renewal, "
            "and the next one created takes its place at no charge."
        )
    else:
        removal_text = _("Deleting one credits the unused time, down to the units included in the plan.")
    cards = []
    for summary in summaries:
        listed = [
            UnitListed(
                id=unit.pk,
                label=unit.label or f"#{unit.pk}",
                created_on_text=fmt.date(unit.created_on, language),
            )
            for unit in unit_selectors.units_list(organization=organization, code=summary.code)
        ]
        cap = summary.max_units
        cards.append(
            UnitTypeCard(
                code=summary.code,
                name=summary.name,
                price_text=_("%(price)s each per %(interval)s beyond the %(included)s included")
                % {
                    "price": fmt.money(summary.unit_type.unit_price_minor, plan.currency, language),
                    "interval": interval,
                    "included": summary.included,
                },
                cap_text=_("At most %(max)s.") % {"max": cap} if cap is not None else "",
                room=None if cap is None else max(0, cap - summary.created),
                units=listed,
                removal_text=removal_text,
            )
        )
    return cards


def seats_page(*, organization: Organization, on: dt.date, language: str) -> SeatsPage:
    subscription = subscription_live(organization=organization)
    summary = seat_summary(organization=organization)
    if subscription is None or summary is None:
        return SeatsPage(
            organization=organization,
            has_subscription=False,
            plan_name="",
            units=[],
            seats_total=0,
            seats_used=0,
            max_seats=None,
            seat_price_text="",
            intervals=[],
            period_end_text="",
            removal_text="",
            invoicing_text="",
            owners_warning=False,
        )
    plan = subscription.plan
    included = max(summary.included, summary.committed)
    additional = max(0, summary.seats - included)
    units = [
        UnitRow(
            unit_type=_("Users (seats)"),
            created=summary.members,
            included=included,
            additional=additional,
            total=summary.seats,
            free=summary.free,
        )
    ]
    summaries = unit_selectors.unit_summaries(organization=organization)
    units += [
        UnitRow(
            unit_type=summary.name,
            created=summary.created,
            included=summary.included,
            additional=summary.additional,
            total=summary.billed,
            free=summary.free,
            code=summary.code,
        )
        for summary in summaries
    ]
    intervals = [
        IntervalChoice(
            value=interval,
            label=_(Interval(interval).label),
            price_text=fmt.money(price, plan.currency, language),
        )
        for interval, price in sorted(plan.seat_prices_by_interval().items())
    ]
    seat_price_text = (
        _("%(price)s per seat/%(interval)s")
        % {
            "price": fmt.money(plan.seat_price_minor, plan.currency, language),
            "interval": _(INTERVAL_WORDS.get(plan.interval, plan.interval)),
        }
        if not intervals
        else ""
    )
    if plan.seat_removal == Plan.SeatRemoval.NONE:
        removal_text = _("Seats cannot be removed during the term, only reassigned to other people.")
    else:
        removal_text = _("Removing a member gives a prorated credit for the unused time.")
    invoicing_text = {
        Plan.SeatInvoicing.IMMEDIATE: _(
            "Added seats are charged for the rest of the current term on an invoice issued at once."
        ),
        Plan.SeatInvoicing.NEXT_DAY: _(
            "Added seats are charged for the rest of the current term on an invoice the next day."
        ),
        Plan.SeatInvoicing.NEXT_INVOICE: _(
            "Added seats are charged for the rest of the current term on the next renewal invoice."
        ),
    }.get(plan.seat_invoicing, "")
    return SeatsPage(
        organization=organization,
        has_subscription=True,
        plan_name=plan.name,
        units=units,
        seats_total=summary.seats,
        seats_used=summary.members,
        max_seats=summary.max_seats,
        seat_price_text=seat_price_text,
        intervals=intervals,
        period_end_text=fmt.date(subscription.current_period_end, language),
        removal_text=removal_text,
        invoicing_text=invoicing_text,
        owners_warning=summary.free == 0,
        unit_types=_unit_type_cards(
            organization=organization, plan=plan, language=language, summaries=summaries
        ),
    )


@dataclass(frozen=True)
class SeatPurchasePreviewPage:
    seats_now: int
    seats_after: int
    count: int
    interval: str
    preview: PreviewView


def seat_purchase_preview_page(
    *, organization: Organization, count: int, interval: str, seats_now: int, on, at, language: str
) -> SeatPurchasePreviewPage:
    preview = seat_purchase_preview(organization=organization, count=count, on=on, at=at, interval=interval)
    return SeatPurchasePreviewPage(
        seats_now=seats_now,
        seats_after=seats_now + count,
        count=count,
        interval=interval,
        preview=preview_view(preview, language=language),
    )


# ---------------------------------------------------------------------------
# Manage billing: billing details, credit balance and the plan; payment methods and each
# payment are on the payments page (payments), which this page links to.


@dataclass(frozen=True)
class Renewal:
    ends: bool  # canceled at period end: it ends on `period_end_text` unless resumed
    period_end_text: str  # when the period ends (renews or ends), as the plan card says it


@dataclass(frozen=True)
class BillingPage:
    organization: Organization
    payments_online: bool  # cards through Stripe; else invoices are paid by bank transfer
    plan: PlanCard
    details: list[tuple[str, str]]  # (label, value) of the billing details on invoices
    credit_balance_text: str
    renewal: Renewal | None  # None: no subscription
    app_store: bool = False  # subscribed from the mobile app store (seed 004): capped, switch offered
    app_store_text: str = ""


def billing_page(*, organization: Organization, on: dt.date, language: str) -> BillingPage:
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    seats = _seats_meter(overview)
    currency = subscription.plan.currency if subscription else organization.currency
    balance = credit_balance_minor(organization=organization, currency=currency)
    app_store = subscription is not None and subscription.source == Subscription.Source.APP_STORE
    return BillingPage(
        organization=organization,
        payments_online=payments_online(),
        plan=plan_card(
            subscription=subscription,
            seats_used=seats.used if seats else 0,
            seats_total=(seats.limit or 0) if seats else 0,
            language=language,
        ),
        details=[
            (_("Company name"), organization.invoice_name),
            (_("Address"), organization.address),
            (_("Country"), organization.country),
            (_("VAT ID"), organization.vat_id),
            (_("Billing e-mail"), organization.billing_email),
        ],
        credit_balance_text=fmt.money(balance, currency, language),
        renewal=_renewal(subscription, language=language),
        app_store=app_store,
        app_store_text=app_store_cap_message() if app_store else "",
    )


def _renewal(subscription: Subscription | None, *, language: str) -> Renewal | None:
    if subscription is None:
        return None
    return Renewal(
        ends=subscription.cancel_at_period_end or not subscription.auto_renew,
        period_end_text=fmt.date(subscription.current_period_end, language),
    )


# ---------------------------------------------------------------------------
# What's next: the invoices to come (owners and finance)


@dataclass(frozen=True)
class UpcomingPage:
    has_subscription: bool
    renews_on_text: str = ""
    ends: bool = False  # canceled at period end: it ends then, no renewal invoice
    invoices: list[PreviewDocumentView] = field(default_factory=list)
    pending: PreviewDocumentView | None = None
    credit_balance_text: str = ""
    has_credit: bool = False
    next_total_text: str = ""  # the first invoice to come: its amount due
    next_date_text: str = ""
    more: bool = False

    @property
    def documents(self) -> list[PreviewDocumentView]:
        """The invoices, as the preview partial reads them."""
        return self.invoices


def upcoming_invoice_page(
    *, organization: Organization, on: dt.date, at: dt.datetime, language: str
) -> UpcomingPage:
    """The renewal's lines, the pending charges, the credit to be applied, totals and dates:
    the billing engine's own renewal run up to the plan's renewal, rolled back."""
    upcoming = upcoming_invoices(organization=organization, on=on, at=at)
    if upcoming is None:
        return UpcomingPage(has_subscription=False)
    renewal = upcoming.renewal
    invoices = [
        # The title carries the date: the partial's date after it would repeat it.
        replace(
            document_view(
                doc,
                language=language,
                title=(_("Renewal invoice of %(date)s") if doc is renewal else _("Invoice of %(date)s"))
                % {"date": fmt.date(doc.issued_on, language)},
            ),
            issued_on_text="",
        )
        for doc in upcoming.invoices
    ]
    first = upcoming.invoices[0] if upcoming.invoices else None
    return UpcomingPage(
        has_subscription=True,
        renews_on_text=fmt.date(upcoming.renews_on, language),
        ends=upcoming.ends,
        invoices=invoices,
        pending=document_view(upcoming.pending, language=language) if upcoming.pending else None,
        credit_balance_text=fmt.money(upcoming.credit_balance_minor, upcoming.currency, language),
        has_credit=upcoming.credit_balance_minor > 0,
        next_total_text=fmt.money(first.amount_due_minor, first.currency, language) if first else "",
        next_date_text=fmt.date(first.issued_on, language) if first else "",
        more=upcoming.more,
    )


# ---------------------------------------------------------------------------
# Statistics


@dataclass(frozen=True)
class ChartTable:
    key: str
    title: str
    description: str
    kind: str  # Chart.js type: bar, doughnut
    label_header: str
    value_header: str
    rows: list[tuple[str, str]]  # (label, formatted value) for the accessible table
    labels: list[str]  # chart data (raw numbers; the chart formats its own ticks)
    values: list


@dataclass(frozen=True)
class StatisticsPage:
    usage: UsageCard
    period_text: str
    charts: list[ChartTable]

    @property
    def chart_data(self) -> dict:
        return {c.key: {"kind": c.kind, "labels": c.labels, "values": c.values} for c in self.charts}


def statistics_page(*, organization: Organization, on: dt.date, language: str) -> StatisticsPage:
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    daily = tokens_daily(organization=organization, on=on)
    models = tokens_by_model(organization=organization, on=on)
    actions = cost_by_action(organization=organization, on=on)
    currency = actions.currency or organization.currency
    day_labels = [fmt.date(dt.date.fromisoformat(d), language) for d in daily.labels]
    return StatisticsPage(
        usage=usage_card(
            overview=overview,
            interval=subscription.plan.interval if subscription else None,
            language=language,
        ),
        period_text=fmt.date_range(daily.period_start, daily.period_end, language),
        charts=[
            ChartTable(
                key="daily",
                title=_("Tokens over time"),
                description=_("AI tokens per day in this billing period."),
                kind="bar",
                label_header=_("Day"),
                value_header=_("Tokens"),
                rows=[
                    (label, fmt.number(v, language))
                    for label, v in zip(day_labels, daily.values, strict=True)
                ],
                labels=day_labels,
                values=daily.values,
            ),
            ChartTable(
                key="models",
                title=_("Breakdown by AI model"),
                description=_("AI tokens per model in this billing period."),
                kind="doughnut",
                label_header=_("Model"),
                value_header=_("Tokens"),
                rows=[
                    (label, fmt.number(v, language))
                    for label, v in zip(models.labels, models.values, strict=True)
                ],
                labels=models.labels,
                values=models.values,
            ),
            ChartTable(
                key="actions",
                title=_("Cost by action type"),
                description=_("What the AI tokens of each action cost at the models' prices."),
                kind="bar",
                label_header=_("Action"),
                value_header=_("Cost"),
                rows=[
                    (label, fmt.money(v, currency, language))
                    for label, v in zip(actions.labels, actions.values, strict=True)
                ],
                labels=actions.labels,
                # Major units for the chart's axis, exact (Decimal, sent as text: Chart.js reads
                # numbers in strings); the table shows the formatted amounts.
                values=[Decimal(v).scaleb(-minor_unit(currency)) for v in actions.values],
            ),
        ],
    )


@dataclass(frozen=True)
class UnitsCreatePreviewPage:
    code: str
    name: str
    label: str
    preview: PreviewView


def units_create_preview_page(
    *, organization: Organization, code: str, label: str, on, at, language: str
) -> UnitsCreatePreviewPage | None:
    """What creating the unit `label` of type `code` would invoice; None: the plan bills no such unit."""
    summary = next(
        (s for s in unit_selectors.unit_summaries(organization=organization) if s.code == code), None
    )
    if summary is None:
        return None
    preview = unit_selectors.units_create_preview(
        organization=organization, code=code, labels=[label], on=on, at=at
    )
    return UnitsCreatePreviewPage(
        code=code, name=summary.name, label=label, preview=preview_view(preview, language=language)
    )
