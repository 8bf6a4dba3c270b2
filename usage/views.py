"""Pages of the usage app: API keys for owners, and the detailed statistics page."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config import clock
from organizations.errors import RuleViolation
from organizations.tenancy import Capability
from organizations.views_base import org_view

from . import selectors, services
from .models import ApiKey


@org_view(Capability.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def api_keys(request, slug):
    """List the keys; POST creates one and shows its secret on this response only."""
    created, secret, error, name = None, None, None, ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            created, secret = services.api_key_create(
                organization=request.organization, name=name, at=clock.now(), acting_user=request.user
            )
            name = ""
        except RuleViolation as exc:
            error = exc.message
    context = {
        "keys": selectors.api_key_list(organization=request.organization),
        "created": created,
        "secret": secret,
        "error": error,
        "name": name,
    }
    response = render(request, "usage/api_keys.html", context, status=400 if error else 200)
    if secret:
        response["Cache-Control"] = "no-store"
    return response


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def api_key_revoke(request, slug, key_id):
    api_key = get_object_or_404(ApiKey, pk=key_id, organization=request.organization)
    services.api_key_revoke(api_key=api_key, at=clock.now(), acting_user=request.user)
    messages.success(request, f"Key {api_key.prefix}… revoked: requests with it now get 401.")
    return redirect("usage_api_keys", slug=slug)


@org_view(Capability.VIEW)
def usage_statistics(request, slug):
    on = clock.today_in(request.organization.time_zone)
    organization = request.organization
    daily = selectors.tokens_daily(organization=organization, on=on)
    monthly = selectors.tokens_monthly(organization=organization, on=on)
    models = selectors.tokens_by_model(organization=organization, on=on)
    actions = selectors.cost_by_action(organization=organization, on=on)
    context = {
        "overview": selectors.usage_overview(organization=organization, on=on),
        "daily": daily,
        "actions": actions,
        "models_rows": list(zip(models.labels, models.values, strict=True)),
        # Costs are in minor units; shown in major units (two decimals).
        "actions_rows": [
            (label, value / 100) for label, value in zip(actions.labels, actions.values, strict=True)
        ],
        "chart_data": {
            "daily": {"labels": daily.labels, "values": daily.values},
            "monthly": {"labels": monthly.labels, "values": monthly.values},
        },
    }
    return render(request, "usage/statistics.html", context)
