"""The one way a page gets its organization: `org_view(capability)`.

It turns the URL's organization (`slug`, or `organization_id` for the API) and the
logged-in user into `request.organization` and `request.membership` through
`tenancy.resolve_membership` (404 for a non-member: the organization's existence is
not revealed) and `tenancy.require` (403 without the capability), before the view runs.
Anonymous visitors are sent to the login page instead.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from .errors import RuleViolation
from .models import Membership
from .tenancy import Capability, has_capability, require, resolve_membership
from .throttling import Throttled

# URL keyword arguments that name the organization. The tenancy test walks every URL
# pattern taking one of these and checks that a non-member gets 404.
ORGANIZATION_SLUG_KWARGS = ("slug", "org_slug", "organization_slug")
ORGANIZATION_ID_KWARGS = ("organization_id", "org_id", "organization_pk")


def bind_organization(request, *, capability: Capability, url_kwargs: dict) -> Membership:
    """Resolve the URL's organization for request.user, set request.organization and
    request.membership, then check the capability."""
    slug = next((url_kwargs[k] for k in ORGANIZATION_SLUG_KWARGS if k in url_kwargs), None)
    organization_id = next((url_kwargs[k] for k in ORGANIZATION_ID_KWARGS if k in url_kwargs), None)
    if slug is None and organization_id is None:
        raise TypeError("An organization-scoped URL needs a slug or organization_id keyword argument.")
    membership = resolve_membership(request.user, slug=slug, organization_id=organization_id)
    request.organization = membership.organization
    request.membership = membership
    require(membership, capability)
    return membership


def org_view(capability: Capability = Capability.VIEW):
    """Decorate a function view of an organization-scoped URL."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            bind_organization(request, capability=capability, url_kwargs=kwargs)
            return view(request, *args, **kwargs)

        wrapped.organization_capability = capability
        return wrapped

    return decorator


class OrganizationScopedMixin:
    """The same for class-based views: set `capability` on the class."""

    capability: Capability = Capability.VIEW

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        bind_organization(request, capability=self.capability, url_kwargs=kwargs)
        return super().dispatch(request, *args, **kwargs)


def seats_url(organization) -> str:
    # The seats page arrives with the seats issue; its path is fixed by the product.
    return f"/o/{organization.slug}/seats/"


def refusal_message(request, exc: RuleViolation) -> str:
    """A refusal as shown to the person who tried: what happened and what to do next (HTML-safe)."""
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    if exc.code == "team_full" and organization is not None:
        if has_capability(membership, Capability.MANAGE_PLAN):
            return format_html(
                _('{} <a href="{}">Change plan</a>'), exc.message, f"/o/{organization.slug}/plan/"
            )
        return format_html(_("{} Ask an owner of {} to change the plan."), exc.message, organization.name)
    if exc.code in {"seat_unavailable", "max_seats_exceeded"} and organization is not None:
        if has_capability(membership, Capability.MANAGE_PLAN):
            return format_html(
                _('{} <a href="{}">Buy seats</a>, then try again.'), exc.message, seats_url(organization)
            )
        return format_html(
            _("{} Ask an owner of {} to buy a seat, then try again."), exc.message, organization.name
        )
    return format_html("{}", exc.message)


def redirect_to(request, url: str):
    """A redirect that also works for an HTMX request (full page navigation)."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def throttled_response(response, throttled: Throttled | None):
    """A page refused by a brute-force limit: 429 with Retry-After (its text says when)."""
    if throttled is not None:
        response.status_code = 429
        response["Retry-After"] = str(throttled.retry_after)
    return response
