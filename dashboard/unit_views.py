"""Units other than seats on the seats page (seed 001: phone numbers): owners create one
(review the cost, then confirm) and delete one. Thin: forms parse, billing.unit_services
decides, the seats page shows the result."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import unit_selectors, unit_services
from core import clock
from dashboard import selectors
from dashboard.forms import UnitCreateConfirmForm, UnitCreateForm
from dashboard.views import _go, _htmx_target, _language, _seats_context
from organizations.errors import RuleViolation
from organizations.tenancy import Capability
from organizations.views_base import org_view, refusal_message


def _editor_id(code: str) -> str:
    return f"unit-editor-{code}"


def _seats_url(slug: str) -> str:
    # No #fragment: HTMX's redirect to the same path with only a fragment would not reload the page.
    return reverse("dashboard_seats", kwargs={"slug": slug})


def _preview_response(request, *, code: str, label: str, error: str = ""):
    at, on = clock.organization_now_and_today(request.organization)
    page = selectors.units_create_preview_page(
        organization=request.organization, code=code, label=label, on=on, at=at, language=_language()
    )
    if page is None:
        raise Http404("The plan bills no such unit.")
    context = {**_seats_context(request), "unit_preview": page, "error": error}
    if _htmx_target(request) == _editor_id(code):
        return render(request, "dashboard/units_preview.html#panel", context)
    return render(request, "dashboard/units_preview.html", context)


@org_view(Capability.MANAGE_PLAN)
@require_GET
def units_preview(request, slug, code):
    form = UnitCreateForm(request.GET)
    if not form.is_valid():
        messages.error(request, _("Enter the number or name of the unit to add."))
        return _go(request, _seats_url(slug))
    return _preview_response(request, code=code, label=form.cleaned_data["label"])


@org_view(Capability.MANAGE_PLAN)
@require_POST
def units_create(request, slug, code):
    form = UnitCreateConfirmForm(request.POST)
    if not form.is_valid():
        return _go(request, _seats_url(slug))
    label = form.cleaned_data["label"]
    at, on = clock.organization_now_and_today(request.organization)
    try:
        done = unit_services.units_create(
            organization=request.organization,
            code=code,
            labels=[label],
            on=on,
            at=at,
            acting_user=request.user,
            expected_token=form.cleaned_data["state_token"],
        )
    except RuleViolation as exc:
        return _preview_response(request, code=code, label=label, error=refusal_message(request, exc))
    if done.invoice is not None:
        messages.success(request, _("%(label)s added. Its invoice is under Invoices.") % {"label": label})
    else:
        messages.success(request, _("%(label)s added, at no extra charge.") % {"label": label})
    return _go(request, _seats_url(slug))


@org_view(Capability.MANAGE_PLAN)
@require_POST
def units_delete(request, slug, code, unit_id):
    unit = unit_selectors.unit_get(organization=request.organization, unit_id=unit_id)
    if unit is None or unit.code != code:
        raise Http404("No such unit.")
    at, on = clock.organization_now_and_today(request.organization)
    try:
        unit_services.units_delete(
            organization=request.organization,
            code=code,
            unit_ids=[unit.pk],
            on=on,
            at=at,
            acting_user=request.user,
        )
    except RuleViolation as exc:
        messages.error(request, refusal_message(request, exc))
        return _go(request, _seats_url(slug))
    messages.success(request, _("%(label)s deleted.") % {"label": unit.label or f"#{unit.pk}"})
    return _go(request, _seats_url(slug))
