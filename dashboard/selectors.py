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
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from billing.domain import recommendation
from billing.domain.money import minor_unit
from billing.domain.periods import MONTH, WEEK, YEAR, period_index, period_start
from billing.models import Interval, Meter, Plan, Subscription
from billing.presentation import PreviewView, preview_view
from billing.preview import plan_change_preview
from billing.selectors import plan_list, seat_summary, subscription_live
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
from usage.selectors import UsageOverview, cost_by_action, tokens_by_model, tokens_daily, usage_overview

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


def _option(plan: Plan, *, needs: dict, current_code: str, recommended: bool, language: str) -> PlanOption:
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
    )


def plan_choices(*, organization: Organization, on: dt.date, language: str, show_all: bool) -> PlanChoices:
    """The change-plan dialog: the current plan, then the cheapest public plans whose limits
    cover the usage with headroom (ties: the catalogue's recommended rank); all on request."""
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    needs = _needs(organization=organization, subscription=subscription, overview=overview, on=on)
    current = subscription.plan if subscription else None
    currency = current.currency if current else organization.currency
    plans = [p for p in plan_list(public_only=True) if p.currency == currency]
    current_code = current.code if current else ""
    suggested_codes = recommendation.suggested_plans(
        [_plan_terms(p) for p in plans],
        needs=needs,
        members=needs.get(Meter.SEATS, 0),
        current_code=current_code,
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
class PlanChangePreviewPage:
    plan: PlanOption
    current_plan_name: str
    preview: PreviewView


def plan_change_preview_page(
    *, organization: Organization, plan: Plan, on: dt.date, at: dt.datetime, language: str
) -> PlanChangePreviewPage:
    """What changing to `plan` now issues, exactly (the engine's dry run), and its token."""
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    needs = _needs(organization=organization, subscription=subscription, overview=overview, on=on)
    current_code = subscription.plan.code if subscription else ""
    return PlanChangePreviewPage(
        plan=_option(plan, needs=needs, current_code=current_code, recommended=False, language=language),
        current_plan_name=subscription.plan.name if subscription else "",
        preview=preview_view(
            plan_change_preview(organization=organization, plan=plan, on=on, at=at),
            language=language,
        ),
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


def billing_page(*, organization: Organization, on: dt.date, language: str) -> BillingPage:
    subscription = subscription_live(organization=organization)
    overview = usage_overview(organization=organization, on=on)
    seats = _seats_meter(overview)
    currency = subscription.plan.currency if subscription else organization.currency
    balance = credit_balance_minor(organization=organization, currency=currency)
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
    )


def _renewal(subscription: Subscription | None, *, language: str) -> Renewal | None:
    if subscription is None:
        return None
    return Renewal(
        ends=subscription.cancel_at_period_end or not subscription.auto_renew,
        period_end_text=fmt.date(subscription.current_period_end, language),
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
