"""Pages of the usage app: API keys for owners.

The detailed statistics page is the dashboard's (`/o/<slug>/statistics/`); `/o/<slug>/usage/`
redirects there.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import clock
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
    messages.success(
        request, _("Key %(prefix)s… revoked: requests with it now get 401.") % {"prefix": api_key.prefix}
    )
    return redirect("usage_api_keys", slug=slug)


@org_view(Capability.VIEW)
@require_GET
def statistics_moved(request, slug):
    """The old statistics address: old links and bookmarks land on the dashboard's page.
    Behind org_view like every organization page, so an outsider gets 404, not a redirect."""
    return redirect("dashboard_statistics", slug=slug, permanent=True)
