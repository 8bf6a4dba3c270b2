"""Pages of single sign-on, SCIM and the waiting list: parse, authorize, call one service, render.

The clock is read here and passed down (`at`, and `on` as the organization's date).
Owner-only settings (SSO, SCIM tokens) need MANAGE_API_KEYS, the owners' capability for
machine credentials; buying seats for the waiting list and the seat alert need MANAGE_PLAN.
"""

from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import clock
from organizations import views as org_views
from organizations.errors import RuleViolation
from organizations.tenancy import Capability
from organizations.views_base import org_view

from . import alerts, oidc, provisioning, selectors, sso, waiting
from .forms import (
    AdmitForm,
    ScimTokenForm,
    SeatAlertForm,
    SsoAwareAuthenticationForm,
    SsoFindForm,
    SsoSettingsForm,
)

SSO_STATES = "identity_sso_states"  # session: OIDC state -> organization id, for the shared callback
MAX_PENDING_SIGN_INS = 20
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _when(request, organization):
    at = clock.now()
    return clock.today_in(organization.time_zone, at=at), at


# Login ---------------------------------------------------------------------------------------

login = org_views.LoginView.as_view(
    form_class=SsoAwareAuthenticationForm, template_name="identity/login.html"
)


# Single sign-on ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sso_find(request):
    """ "Sign in with SSO": the work address's domain names the organization."""
    form = SsoFindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = selectors.sso_connection_for_email(email=form.cleaned_data["email"])
        if connection is not None:
            url = reverse("identity_sso_start", kwargs={"organization": connection.organization.slug})
            next_url = request.GET.get("next")
            return redirect(f"{url}?next={next_url}" if next_url else url)
        form.add_error(
            "email", _("No organization signs in people of that domain with SSO. Log in with your password.")
        )
    return render(request, "identity/sso_find.html", {"form": form})


@require_GET
def sso_start(request, organization):
    """Send the browser to the organization's provider. Public: anyone may start a sign-in,
    so the keyword is not one the tenancy walk treats as member-only."""
    connection = selectors.sso_connection_by_slug(slug=organization)
    if connection is None:
        raise Http404("No single sign-on for this organization.")
    response = oidc.OrganizationAuthenticationRequest(connection).get(request)
    state = parse_qs(urlsplit(response["Location"]).query).get("state", [""])[0]
    states = request.session.get(SSO_STATES, {})
    states[state] = connection.organization_id
    request.session[SSO_STATES] = dict(list(states.items())[-MAX_PENDING_SIGN_INS:])
    return response


def _refused(request, message: str, *, status: int = 403, organization=None):
    return render(
        request,
        "identity/sso_refused.html",
        {"message": message, "organization": organization},
        status=status,
    )


@require_GET
def sso_callback(request):
    """The provider sends the browser back here with a code (mozilla-django-oidc exchanges it)."""
    state = request.GET.get("state", "")
    states = request.session.get(SSO_STATES, {})
    oidc_states = request.session.get("oidc_states", {})
    organization_id = states.pop(state, None)
    entry = oidc_states.pop(state, None)
    request.session[SSO_STATES] = states
    request.session["oidc_states"] = oidc_states
    if request.GET.get("error"):
        detail = request.GET.get("error_description") or request.GET["error"]
        return _refused(
            request,
            _("Your identity provider did not sign you in: %(detail)s") % {"detail": detail},
            status=400,
        )
    if organization_id is None or entry is None or not request.GET.get("code"):
        return _refused(request, _("This sign-in expired or was already used. Start again."), status=400)
    connection = selectors.sso_connection_by_organization_id(organization_id=organization_id)
    if connection is None:
        raise Http404("Single sign-on was turned off for this organization.")
    organization = connection.organization
    on, at = _when(request, organization)

    def sign_in(claims):
        return sso.sso_sign_in(
            connection=connection, claims=claims, on=on, at=at, base_url=_base_url(request)
        )

    backend = oidc.OrganizationOIDCBackend(connection, sign_in=sign_in)
    try:
        user = backend.authenticate(
            request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
        )
    except sso.SeatWaitingForSso as exc:
        context = {"organization": organization, "message": exc.message, "waiter": exc.waiter}
        return render(request, "identity/sso_waiting.html", context, status=403)
    except RuleViolation as exc:
        return _refused(request, exc.message, organization=organization)
    except (requests.RequestException, SuspiciousOperation, ValueError):
        return _refused(
            request,
            _(
                "We could not complete the sign-in with the identity provider of %(name)s. Try again; "
                "if it keeps failing, ask an owner to check the single sign-on settings."
            )
            % {"name": organization.name},
            status=502,
            organization=organization,
        )
    if user is None or not user.is_active:
        return _refused(
            request, _("Your identity provider's answer could not be verified."), organization=organization
        )
    next_url = request.session.pop("oidc_login_next", None)
    auth_login(request, user, backend=SESSION_BACKEND)
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("organization_overview", slug=organization.slug)


@org_view(Capability.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def sso_settings(request, slug):
    organization = request.organization
    connection = selectors.sso_connection_get(organization=organization)
    initial = {}
    if connection is not None:
        initial = {
            "issuer": connection.issuer,
            "client_id": connection.client_id,
            "domains": "\n".join(selectors.sso_domains(organization=organization)),
            "require_sso": connection.require_sso,
        }
    form = SsoSettingsForm(request.POST or None, initial=initial, has_secret=connection is not None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            discovery = oidc.discovery_fetch(issuer=data["issuer"])
            sso.sso_configure(
                organization=organization,
                discovery=discovery,
                client_id=data["client_id"],
                client_secret=data["client_secret"] or None,
                domains=sso.parse_domains(data["domains"]),
                require_sso=data["require_sso"],
                at=clock.now(),
                acting_user=request.user,
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Single sign-on settings saved."))
            return redirect("identity_sso_settings", slug=slug)
    context = {
        "form": form,
        "connection": connection,
        "callback_url": request.build_absolute_uri(reverse("identity_sso_callback")),
        "start_url": request.build_absolute_uri(reverse("identity_sso_start", kwargs={"organization": slug})),
    }
    return render(request, "identity/sso_settings.html", context)


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def sso_remove(request, slug):
    sso.sso_remove(organization=request.organization, at=clock.now(), acting_user=request.user)
    messages.success(request, _("Single sign-on is turned off."))
    return redirect("identity_sso_settings", slug=slug)


# SCIM tokens -----------------------------------------------------------------------------------


@org_view(Capability.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def scim_settings(request, slug):
    organization = request.organization
    form = ScimTokenForm(request.POST or None)
    created, secret = None, ""
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = provisioning.scim_token_create(
                organization=organization,
                name=form.cleaned_data["name"],
                at=clock.now(),
                acting_user=request.user,
            )
            form = ScimTokenForm()
        except RuleViolation as exc:
            form.add_error("name", exc.message)
    context = {
        "form": form,
        "created": created,
        "secret": secret,
        "tokens": selectors.scim_tokens(organization=organization),
        "base_url": request.build_absolute_uri("/scim/v2/"),
    }
    response = render(request, "identity/scim_settings.html", context)
    response["Cache-Control"] = "no-store"  # the page may carry a token shown once
    return response


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def scim_token_revoke(request, slug, token_id):
    try:
        token = provisioning.scim_token_revoke(
            organization=request.organization, token_id=token_id, at=clock.now(), acting_user=request.user
        )
    except RuleViolation as exc:
        raise Http404(exc.message) from None
    messages.success(
        request, _("Token %(prefix)s… revoked: requests with it fail from now on.") % {"prefix": token.prefix}
    )
    return redirect("identity_scim_settings", slug=slug)


# Waiting list and seat alert -------------------------------------------------------------------


def _language() -> str:
    return get_language() or settings.LANGUAGE_CODE


def _waiting_response(request, *, error: str = "", status: int = 200):
    on, at = _when(request, request.organization)
    page = selectors.waiting_page(organization=request.organization, on=on, at=at, language=_language())
    alert_form = SeatAlertForm(initial={"free_seats_at": page.alert.free_seats_at if page.alert else None})
    context = {"page": page, "error": error, "alert_form": alert_form}
    return render(request, "identity/waiting.html", context, status=status)


@org_view(Capability.MANAGE_PLAN)
@require_http_methods(["GET", "POST"])
def waiting_list(request, slug):
    """Who waits for a seat, the exact price of the seats they need, and one confirmation."""
    if request.method == "GET":
        return _waiting_response(request)
    form = AdmitForm(request.POST)
    if not form.is_valid():
        return _waiting_response(request, error=_("Review the amounts below, then confirm."), status=400)
    on, at = _when(request, request.organization)
    try:
        admitted = waiting.waiting_admit(
            organization=request.organization,
            purchase_count=form.cleaned_data["count"],
            expected_token=form.cleaned_data["state_token"] or None,
            expected_waiting=int(request.POST.get("waiting", "-1")),
            on=on,
            at=at,
            acting_user=request.user,
            base_url=_base_url(request),
        )
    except (RuleViolation, ValueError) as exc:
        message = getattr(exc, "message", None) or _("Review the amounts below, then confirm.")
        return _waiting_response(request, error=message, status=409)
    count = len(admitted)
    messages.success(
        request,
        ngettext(
            "%(count)s person is now a member; we told them.",
            "%(count)s people are now members; we told them.",
            count,
        )
        % {"count": count},
    )
    return redirect("identity_waiting", slug=slug)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def waiting_dismiss(request, slug, waiter_id):
    try:
        waiting.waiting_dismiss(
            organization=request.organization, waiter_id=waiter_id, at=clock.now(), acting_user=request.user
        )
    except RuleViolation as exc:
        raise Http404(exc.message) from None
    return redirect("identity_waiting", slug=slug)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def seat_alert(request, slug):
    form = SeatAlertForm(request.POST)
    if not form.is_valid():
        return _waiting_response(
            request, error=_("Enter a number of free seats, or leave it empty."), status=400
        )
    alerts.seat_alert_set(
        organization=request.organization,
        free_seats_at=form.cleaned_data["free_seats_at"],
        at=clock.now(),
        acting_user=request.user,
    )
    messages.success(request, _("Seat alert saved."))
    return redirect("identity_waiting", slug=slug)
