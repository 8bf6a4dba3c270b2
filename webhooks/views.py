"""The webhooks pages: endpoints (create, pick events, roll the secret, shown once, disable)
and the delivery log with its replay button (HTMX). Owners and admins (MANAGE_WEBHOOKS)."""

import datetime as dt

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core import clock
from organizations.errors import RuleViolation
from organizations.tenancy import Capability
from organizations.views_base import org_view

from . import selectors, services
from .models import EventType

GRACE_CHOICES = [0, 24, 72, 168]  # hours the old secret keeps signing after a roll


def _no_store(response):
    response["Cache-Control"] = "no-store"  # the page may carry a secret shown once
    return response


def _endpoint_or_404(request, endpoint_id):
    endpoint = selectors.endpoint_get(organization=request.organization, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


@org_view(Capability.MANAGE_WEBHOOKS)
@require_http_methods(["GET", "POST"])
def endpoint_list(request, slug):
    """The organization's endpoints and latest deliveries; POST adds an endpoint and shows its
    secret on this response only."""
    created, secret, error, form = None, None, None, {"url": "", "description": "", "events": []}
    if request.method == "POST":
        form = {
            "url": request.POST.get("url", ""),
            "description": request.POST.get("description", ""),
            "events": request.POST.getlist("events"),
        }
        try:
            created, secret = services.endpoint_create(
                organization=request.organization, at=clock.now(), acting_user=request.user, **form
            )
            form = {"url": "", "description": "", "events": []}
        except RuleViolation as exc:
            error = exc
    context = {
        "endpoints": selectors.endpoint_list(organization=request.organization),
        "deliveries": selectors.delivery_log(organization=request.organization, limit=25),
        "event_types": EventType.choices,
        "created": created,
        "secret": secret,
        "error": error,
        "form": form,
    }
    return _no_store(render(request, "webhooks/endpoints.html", context, status=400 if error else 200))


def _endpoint_page(request, endpoint, *, secret=None, error=None, form=None, status=200):
    context = {
        "endpoint": endpoint,
        "deliveries": selectors.delivery_log(organization=request.organization, endpoint=endpoint),
        "event_types": EventType.choices,
        "grace_choices": GRACE_CHOICES,
        "secret": secret,
        "error": error,
        "form": form or {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events},
    }
    return _no_store(render(request, "webhooks/endpoint.html", context, status=status))


@org_view(Capability.MANAGE_WEBHOOKS)
@require_http_methods(["GET", "POST"])
def endpoint_detail(request, slug, endpoint_id):
    """One endpoint: its settings, its secret's roll and its delivery log; POST saves the settings."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    if request.method == "GET":
        return _endpoint_page(request, endpoint)
    form = {
        "url": request.POST.get("url", ""),
        "description": request.POST.get("description", ""),
        "events": request.POST.getlist("events"),
    }
    try:
        services.endpoint_update(
            organization=request.organization,
            endpoint_id=endpoint.pk,
            at=clock.now(),
            acting_user=request.user,
            **form,
        )
    except RuleViolation as exc:
        return _endpoint_page(request, endpoint, error=exc, form=form, status=400)
    messages.success(request, _("Endpoint saved."))
    return redirect("webhook_endpoint", slug=slug, endpoint_id=endpoint.pk)


@org_view(Capability.MANAGE_WEBHOOKS)
@require_POST
def endpoint_roll(request, slug, endpoint_id):
    """A new secret, shown on this response only; the old one signs beside it for the hours chosen."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    try:
        hours = int(request.POST.get("grace_hours", "24"))
    except ValueError:
        hours = -1
    if hours not in GRACE_CHOICES:
        raise Http404("No such choice.")
    endpoint, secret = services.endpoint_secret_roll(
        organization=request.organization,
        endpoint_id=endpoint.pk,
        at=clock.now(),
        grace=dt.timedelta(hours=hours),
        acting_user=request.user,
    )
    return _endpoint_page(request, endpoint, secret=secret)


@org_view(Capability.MANAGE_WEBHOOKS)
@require_POST
def endpoint_active(request, slug, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    active = request.POST.get("active") == "1"
    services.endpoint_update(
        organization=request.organization,
        endpoint_id=endpoint.pk,
        at=clock.now(),
        acting_user=request.user,
        active=active,
    )
    if active:
        messages.success(request, _("Endpoint enabled: new events are sent to it."))
    else:
        messages.success(
            request, _("Endpoint disabled: nothing more is sent to it, pending retries included.")
        )
    return redirect("webhook_endpoint", slug=slug, endpoint_id=endpoint.pk)


@org_view(Capability.MANAGE_WEBHOOKS)
@require_POST
def delivery_replay(request, slug, delivery_id):
    """Send a logged delivery's event again. HTMX swaps the log (#delivery-log) in place."""
    delivery = selectors.delivery_get(organization=request.organization, delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    error = None
    try:
        services.delivery_replay(
            organization=request.organization,
            delivery_id=delivery.pk,
            at=clock.now(),
            acting_user=request.user,
        )
    except RuleViolation as exc:
        error = exc.message
    if getattr(request, "htmx", False):
        endpoint = delivery.endpoint if request.POST.get("scope") == "endpoint" else None
        context = {
            "deliveries": selectors.delivery_log(organization=request.organization, endpoint=endpoint),
            "scope": "endpoint" if endpoint else "",
            "replay_error": error,
            "replayed": None if error else delivery.pk,
        }
        return render(request, "webhooks/_delivery_log.html", context, status=409 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Event sent again as a new delivery."))
    return redirect("webhook_endpoint", slug=slug, endpoint_id=delivery.endpoint_id)
