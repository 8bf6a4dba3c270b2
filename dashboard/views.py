"""Dashboard pages: parse, authorize (org_view), call one selector or service, render.

Every page works as plain links and forms; HTMX enhances them. A card refreshes with
`hx-get` on the page's own URL plus `?card=<name>` (the same URL without HTMX renders the
whole page), and the change-plan dialog loads its steps into the <dialog> instead of
navigating. The clock is read here and passed down as `on=` (the organization's date)
and `at=`.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from billing.services import (
    subscription_cancel_at_period_end,
    subscription_resume,
    subscription_start_free,
    subscription_switch_to_web,
)
from core import clock
from dashboard import selectors
from dashboard.forms import PlanChangeConfirmForm, SeatIncreaseForm, SeatPurchaseConfirmForm
from organizations import formatting as fmt
from organizations import services as org_services
from organizations.errors import RuleViolation
from organizations.forms import OrganizationCreateForm
from organizations.tenancy import Capability, has_capability
from organizations.views_base import org_view, refusal_message
from seats.services import seat_purchase
from usage.services import plan_change_confirmed

OVERVIEW_CARDS = {"usage", "plan", "invoices"}
PLAN_MODAL_BODY = "plan-modal-body"  # the element of the dialog that its steps replace
SEAT_EDITOR = "seat-editor"


def _language() -> str:
    return get_language() or settings.LANGUAGE_CODE


def _htmx_target(request) -> str | None:
    return request.htmx.target if getattr(request, "htmx", False) else None


def _go(request, url: str):
    """A redirect that HTMX follows as a full page load (the dialog closes, messages show)."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


# ---------------------------------------------------------------------------
# Creating an organization: the owner is its first member and it starts on the free plan


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request):
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                organization = org_services.organization_create(
                    name=form.cleaned_data["name"],
                    country=form.cleaned_data["country"],
                    owner=request.user,
                    at=clock.now(),
                )
                at, on = clock.organization_now_and_today(organization)
                subscription = subscription_start_free(
                    organization=organization, on=on, at=at, acting_user=request.user
                )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if subscription is None:
                messages.warning(
                    request,
                    _("%(name)s is ready. There is no free plan: choose the plan to start with.")
                    % {"name": organization.name},
                )
                return redirect("dashboard_plan_choose", slug=organization.slug)
            messages.success(
                request,
                _("%(name)s is ready on %(plan)s. Invite your team from Members.")
                % {"name": organization.name, "plan": subscription.plan.name},
            )
            return redirect("organization_overview", slug=organization.slug)
    return render(request, "organizations/organization_create.html", {"form": form})


# ---------------------------------------------------------------------------
# Overview (seed 000)


@org_view(Capability.VIEW)
@require_GET
def overview(request, slug):
    organization, language = request.organization, _language()
    _at, on = clock.organization_now_and_today(request.organization)
    card = request.GET.get("card")
    if getattr(request, "htmx", False) and card in OVERVIEW_CARDS:
        return _overview_card(request, card, on=on, language=language)
    page = selectors.organization_overview(
        organization=organization,
        on=on,
        membership=request.membership,
        language=language,
        docs_url=getattr(settings, "DOCS_URL", "") or reverse("api-docs"),
    )
    return render(request, "dashboard/overview.html", {"page": page})


def _overview_card(request, card: str, *, on, language: str):
    organization = request.organization
    if card == "usage":
        context = {
            "usage": selectors.overview_usage_card(
                organization=organization, on=on, membership=request.membership, language=language
            )
        }
        return render(request, "dashboard/overview.html#usage-card", context)
    if card == "plan":
        context = {"plan": selectors.overview_plan_card(organization=organization, on=on, language=language)}
        return render(request, "dashboard/overview.html#plan-card", context)
    if not _can(request, Capability.VIEW_INVOICES):
        raise Http404("No such card.")
    rows = selectors.overview_invoice_rows(organization=organization, language=language)
    return render(request, "dashboard/overview.html#invoices-card", {"invoices": rows})


def _can(request, capability: Capability) -> bool:
    return has_capability(request.membership, capability)


# ---------------------------------------------------------------------------
# Change plan: choose, review the preview, confirm


def _dialog_or_page(request, template: str, context: dict, *, status: int = 200):
    """Inside the open dialog: the step's panel; opening the dialog: the dialog; else the page."""
    target = _htmx_target(request)
    if target == PLAN_MODAL_BODY:
        return render(request, f"{template}#panel", context, status=status)
    if getattr(request, "htmx", False):
        return render(request, f"{template}#dialog", context, status=status)
    return render(request, template, context, status=status)


@org_view(Capability.MANAGE_PLAN)
@require_GET
def plan_choose(request, slug):
    _at, on = clock.organization_now_and_today(request.organization)
    choices = selectors.plan_choices(
        organization=request.organization, on=on, language=_language(), show_all=request.GET.get("all") == "1"
    )
    return _dialog_or_page(
        request, "dashboard/plan_change.html", {"choices": choices, "sales_url": settings.SALES_URL}
    )


def _plan_or_404(request, code: str):
    plan = selectors.plan_for_change(organization=request.organization, code=code)
    if plan is None:
        raise Http404("No such plan.")
    return plan


def _plan_preview_response(request, plan, *, error: str = ""):
    at, on = clock.organization_now_and_today(request.organization)
    page = selectors.plan_change_preview_page(
        organization=request.organization, plan=plan, on=on, at=at, language=_language()
    )
    return _dialog_or_page(
        request,
        "dashboard/plan_preview.html",
        {"page": page, "error": error, "sales_url": settings.SALES_URL},
    )


@org_view(Capability.MANAGE_PLAN)
@require_GET
def plan_preview(request, slug, code):
    return _plan_preview_response(request, _plan_or_404(request, code))


@org_view(Capability.MANAGE_PLAN)
@require_POST
def plan_confirm(request, slug, code):
    plan = _plan_or_404(request, code)
    form = PlanChangeConfirmForm(request.POST)
    if not form.is_valid():
        return _plan_preview_response(request, plan, error=_("Review the amounts below, then confirm."))
    at, on = clock.organization_now_and_today(request.organization)
    try:
        plan_change_confirmed(
            organization=request.organization,
            plan=plan,
            on=on,
            at=at,
            acting_user=request.user,
            expected_token=form.cleaned_data["state_token"],
            accept_over_limits=form.cleaned_data["accept_over_limits"],
        )
    except RuleViolation as exc:
        # A fresh preview beside the reason: the person sees what confirming would do now.
        return _plan_preview_response(request, plan, error=refusal_message(request, exc))
    messages.success(request, _("You are now on %(plan)s.") % {"plan": plan.name})
    return _go(request, reverse("organization_overview", kwargs={"slug": slug}))


# ---------------------------------------------------------------------------
# Seats (seeds 001 and 002)


def _seats_context(request, **extra):
    _at, on = clock.organization_now_and_today(request.organization)
    return {
        "page": selectors.seats_page(organization=request.organization, on=on, language=_language()),
        **extra,
    }


@org_view(Capability.MANAGE_PLAN)
@require_GET
def seats(request, slug):
    context = _seats_context(request)
    if getattr(request, "htmx", False) and request.GET.get("card") == "units":
        return render(request, "dashboard/seats.html#units-card", context)
    return render(request, "dashboard/seats.html", context)


def _editor(request, template: str, context: dict):
    """The seat editor: its panel inside the seats page (HTMX), or a page of its own."""
    if _htmx_target(request) == SEAT_EDITOR:
        return render(request, f"{template}#panel", context)
    return render(request, template, context)


def _seat_form(page, data=None):
    return SeatIncreaseForm(data, seats_now=page.seats_total, intervals=page.intervals)


@org_view(Capability.MANAGE_PLAN)
@require_GET
def seats_edit(request, slug):
    context = _seats_context(request)
    page = context["page"]
    if not page.has_subscription:
        raise Http404("No subscription.")
    initial = {"seats": page.seats_total + 1}
    form = SeatIncreaseForm(initial=initial, seats_now=page.seats_total, intervals=page.intervals)
    return _editor(request, "dashboard/seats_edit.html", {**context, "form": form})


def _seat_preview_response(request, *, count: int, interval: str, error: str = ""):
    at, on = clock.organization_now_and_today(request.organization)
    context = _seats_context(request)
    page = context["page"]
    preview = selectors.seat_purchase_preview_page(
        organization=request.organization,
        count=count,
        interval=interval,
        seats_now=page.seats_total,
        on=on,
        at=at,
        language=_language(),
    )
    return _editor(request, "dashboard/seats_preview.html", {**context, "preview": preview, "error": error})


@org_view(Capability.MANAGE_PLAN)
@require_GET
def seats_preview(request, slug):
    context = _seats_context(request)
    page = context["page"]
    if not page.has_subscription:
        raise Http404("No subscription.")
    form = _seat_form(page, request.GET)
    if not form.is_valid():
        return _editor(request, "dashboard/seats_edit.html", {**context, "form": form})
    return _seat_preview_response(request, count=form.count, interval=form.cleaned_data.get("interval", ""))


@org_view(Capability.MANAGE_PLAN)
@require_POST
def seats_purchase(request, slug):
    form = SeatPurchaseConfirmForm(request.POST)
    if not form.is_valid():
        return redirect("dashboard_seats_edit", slug=slug)
    count, interval = form.cleaned_data["count"], form.cleaned_data["interval"]
    at, on = clock.organization_now_and_today(request.organization)
    try:
        seat_purchase(
            organization=request.organization,
            count=count,
            on=on,
            at=at,
            acting_user=request.user,
            interval=interval,
            expected_token=form.cleaned_data["state_token"],
        )
    except RuleViolation as exc:
        error = refusal_message(request, exc)
        typed = form.cleaned_data["seats"]
        if typed:
            context = _seats_context(request)
            page = context["page"]
            if typed <= page.seats_total:  # the seats there are now already reach the typed total
                form = _seat_form(page, {"seats": typed, "interval": interval})
                form.is_valid()  # says why: not more than the seats there are now
                return _editor(
                    request, "dashboard/seats_edit.html", {**context, "form": form, "error": error}
                )
            count = typed - page.seats_total
        return _seat_preview_response(request, count=count, interval=interval, error=error)
    messages.success(
        request,
        ngettext(
            "%(count)s seat added. The invoice for it is under Invoices.",
            "%(count)s seats added. The invoice for them is under Invoices.",
            count,
        )
        % {"count": count},
    )
    return _go(request, reverse("dashboard_seats", kwargs={"slug": slug}))


# ---------------------------------------------------------------------------
# Manage billing and statistics


@org_view(Capability.MANAGE_PLAN)
@require_GET
def billing(request, slug):
    _at, on = clock.organization_now_and_today(request.organization)
    page = selectors.billing_page(organization=request.organization, on=on, language=_language())
    return render(request, "dashboard/billing.html", {"page": page})


def _renewal_change(request, slug, *, change, done: str):
    """Cancel or resume through `change`; `done` (with %(date)s, the period's end) on success."""
    try:
        subscription = change(organization=request.organization, at=clock.now(), acting_user=request.user)
    except RuleViolation as exc:
        messages.error(request, refusal_message(request, exc))
    else:
        messages.success(request, done % {"date": fmt.date(subscription.current_period_end, _language())})
    return redirect("dashboard_billing", slug=slug)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def billing_cancel(request, slug):
    return _renewal_change(
        request,
        slug,
        change=subscription_cancel_at_period_end,
        done=_("Your subscription will end on %(date)s and will not renew. You can resume it until then."),
    )


@org_view(Capability.MANAGE_PLAN)
@require_POST
def billing_resume(request, slug):
    return _renewal_change(
        request, slug, change=subscription_resume, done=_("Your subscription will renew on %(date)s.")
    )


@org_view(Capability.MANAGE_PLAN)
@require_POST
def billing_switch_to_web(request, slug):
    """An app-store team moves to a web subscription (seed 004): owners only."""
    try:
        subscription_switch_to_web(
            organization=request.organization, at=clock.now(), acting_user=request.user
        )
    except RuleViolation as exc:
        messages.error(request, refusal_message(request, exc))
    else:
        messages.success(
            request,
            _("Your team now has a web subscription: add more members and change plan here."),
        )
    return redirect("dashboard_billing", slug=slug)


@org_view(Capability.VIEW_INVOICES)
@require_GET
def billing_upcoming(request, slug):
    """What's next: the invoices the renewal will issue, from the engine's dry run (owners, finance)."""
    at, on = clock.organization_now_and_today(request.organization)
    page = selectors.upcoming_invoice_page(
        organization=request.organization, on=on, at=at, language=_language()
    )
    return render(request, "dashboard/upcoming.html", {"page": page})


@org_view(Capability.VIEW)
@require_GET
def statistics(request, slug):
    _at, on = clock.organization_now_and_today(request.organization)
    page = selectors.statistics_page(organization=request.organization, on=on, language=_language())
    return render(request, "dashboard/statistics.html", {"page": page})
