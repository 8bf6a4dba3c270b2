"""Pages of the usage app. API keys are managed on the organization's credentials page
(organizations.credentials_views); the detailed statistics page is the dashboard's
(`/o/<slug>/statistics/`), and `/o/<slug>/usage/` redirects there.
"""

from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from organizations.tenancy import Capability
from organizations.views_base import org_view


@org_view(Capability.VIEW)
@require_GET
def statistics_moved(request, slug):
    """The old statistics address: old links and bookmarks land on the dashboard's page.
    Behind org_view like every organization page, so an outsider gets 404, not a redirect."""
    return redirect("dashboard_statistics", slug=slug, permanent=True)
