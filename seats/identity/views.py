"""Pages of single sign-on, SCIM and the waiting list: parse, authorize, call one service, render.

The clock is read here and passed down (`at`, and `on` as the organization's date).
Owner-only settings (SSO) need MANAGE_API_KEYS, the owners' capability for machine
credentials; buying seats for the waiting list and the seat alert need MANAGE_PLAN. SCIM
tokens are managed on the organization's credentials page (organizations.credentials_views).
"""

import datetime as dt
import logging
from urllib.parse import parse_qs, urlsplit

import jwt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import clock, outbound
from organizations import views as org_views
from organizations.errors import RuleViolation
from organizations.tenancy import Capability
from organizations.views_base import org_view

from . import alerts, domains, oidc, selectors, sso, waiting
from .forms import (
    AdmitForm,
    SeatAlertForm,
    SsoAwareAuthenticationForm,
    SsoDomainForm,
    SsoFindForm,
    SsoSettingsForm,
)
from .people import single_line

log = logging.getLogger(__name__)

SSO_STATES = "identity_sso_states"  # session: OIDC state -> organization id, for the shared callback
SSO_LINK = "identity_sso_link"  # session: the sign-in waiting for its person to link their account
SSO_LINK_VALID = dt.timedelta(minutes=30)
SSO_SWITCH = "identity_sso_switch"  # session: a sign-in of another person, waiting for this one's yes
SSO_SWITCH_VALID = dt.timedelta(minutes=10)
MAX_PENDING_SIGN_INS = 20
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


# Login ---------------------------------------------------------------------------------------

login = org_views.LoginView.as_view(
    form_class=SsoAwareAuthenticationForm, template_name="identity/login.html"
)


# Single sign-on ------------------------------------------------------------------------------


def _start(request, connection):
    """Send the browser to the organization's provider, remembering which organization the
    OIDC state belongs to (the callback is shared). The library keeps `?next=`."""
    response = oidc.OrganizationAuthenticationRequest(connection).get(request)
    state = parse_qs(urlsplit(response["Location"]).query).get("state", [""])[0]
    states = request.session.get(SSO_STATES, {})
    states[state] = connection.organization_id
    request.session[SSO_STATES] = dict(list(states.items())[-MAX_PENDING_SIGN_INS:])
    return response


@require_http_methods(["GET", "POST"])
def sso_find(request):
    """ "Sign in with SSO": the work address's proven domain names the organization. The
    browser goes straight to its provider, so the page names no organization."""
    form = SsoFindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = selectors.sso_connection_for_email(email=form.cleaned_data["email"])
        if connection is not None:
            return _start(request, connection)
        form.add_error(
            "email", _("No organization signs in people of that domain with SSO. Log in with your password.")
        )
    return render(request, "identity/sso_find.html", {"form": form})


@require_http_methods(["GET", "POST"])
def sso_start(request, organization):
    """Start a sign-in at the organization's provider. Public: anyone may start one, so the
    keyword is not one the tenancy walk treats as member-only.

    GET only shows the page with its "Continue" button; the sign-in starts by that POST
    (CSRF-checked): a GET from any other website must not start one, or it could send a
    visitor through an attacker's provider and back, logged in as the attacker."""
    connection = selectors.sso_connection_by_slug(slug=organization)
    if connection is None:
        raise Http404("No single sign-on for this organization.")
    if request.method == "POST":
        return _start(request, connection)
    context = {
        "organization": connection.organization,
        "provider": urlsplit(connection.issuer).hostname or connection.issuer,
        "next": request.GET.get("next", ""),
    }
    return render(request, "identity/sso_start.html", context)


def _refused(request, message: str, *, status: int = 403, organization=None):
    return render(
        request,
        "identity/sso_refused.html",
        {"message": message, "organization": organization},
        status=status,
    )


def _unverifiable(request, organization):
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


def _finish_sign_in(request, connection, sign_in):
    """Run `sign_in()` (the provider's answer, or a confirmed switch) and log its person in,
    or show why not. A person other than the one logged in is never logged in here without
    that browser's person confirming it (`SsoSwitchRequired`: the switch page)."""
    organization = connection.organization
    try:
        user = sign_in()
    except sso.SsoSwitchRequired as exc:
        request.session[SSO_SWITCH] = {
            "organization_id": organization.pk,
            "email": exc.email,
            "claims": exc.claims,
            "expires_at": (clock.now() + SSO_SWITCH_VALID).isoformat(),
        }
        return redirect("identity_sso_switch")
    except sso.SeatWaitingForSso as exc:
        context = {"organization": organization, "message": exc.message, "waiter": exc.waiter}
        return render(request, "identity/sso_waiting.html", context, status=403)
    except sso.SsoLinkRequired as exc:
        request.session[SSO_LINK] = {
            "organization_id": organization.pk,
            "email": exc.email,
            "subject": exc.subject,
            "expires_at": (clock.now() + SSO_LINK_VALID).isoformat(),
        }
        context = {"organization": organization, "message": exc.message, "email": exc.email}
        return render(request, "identity/sso_link_required.html", context, status=403)
    except oidc.ProviderUnreachable as exc:
        return _refused(request, exc.message, status=502, organization=organization)
    except RuleViolation as exc:
        return _refused(request, exc.message, organization=organization)
    except (SuspiciousOperation, outbound.OutboundError, jwt.PyJWTError, ValueError) as exc:
        log.warning("SSO answer of organization %s refused: %r", organization.pk, exc)
        return _unverifiable(request, organization)
    if user is None or not user.is_active:
        return _refused(
            request, _("Your identity provider's answer could not be verified."), organization=organization
        )
    next_url = request.session.pop("oidc_login_next", None)
    auth_login(request, user, backend=SESSION_BACKEND)
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("organization_overview", slug=organization.slug)


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
        detail = single_line(request.GET.get("error_description") or request.GET["error"], 300)
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
    at, on = clock.organization_now_and_today(connection.organization)

    def sign_in(claims):
        return sso.sso_sign_in(
            connection=connection,
            claims=claims,
            on=on,
            at=at,
            session_user=request.user,
        )

    backend = oidc.OrganizationOIDCBackend(connection, sign_in=sign_in)
    return _finish_sign_in(
        request,
        connection,
        lambda: backend.authenticate(
            request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
        ),
    )


@require_http_methods(["GET", "POST"])
def sso_switch(request):
    """The provider signed in someone else than the person this browser is logged in as:
    GET asks them; POST `switch` logs that person in instead (the sign-in runs now, with the
    claims checked a moment ago), POST `stay` keeps the session as it is. Nothing changed
    before the answer."""
    pending = request.session.get(SSO_SWITCH) or {}
    connection = None
    if pending and dt.datetime.fromisoformat(pending["expires_at"]) > clock.now():
        connection = selectors.sso_connection_by_organization_id(organization_id=pending["organization_id"])
    if connection is None:
        request.session.pop(SSO_SWITCH, None)
        return _refused(request, _("This sign-in expired or was already used. Start again."), status=400)
    organization = connection.organization
    if request.method == "GET":
        context = {"organization": organization, "email": pending["email"]}
        return render(request, "identity/sso_switch.html", context)
    request.session.pop(SSO_SWITCH, None)
    if request.POST.get("action") != "switch":
        request.session.pop("oidc_login_next", None)
        if request.user.is_authenticated:
            messages.info(
                request,
                _("You are still logged in as %(account)s.")
                % {"account": request.user.email or request.user.get_username()},
            )
        return redirect(settings.LOGIN_REDIRECT_URL)
    at, on = clock.organization_now_and_today(organization)
    return _finish_sign_in(
        request,
        connection,
        lambda: sso.sso_sign_in(connection=connection, claims=pending["claims"], on=on, at=at),
    )


@login_required
@require_http_methods(["GET", "POST"])
def sso_link(request):
    """After logging in with their own password, a person confirms linking their account to
    the provider that vouched for them a moment ago (the pending link is in the session)."""
    pending = request.session.get(SSO_LINK) or {}
    connection = None
    if pending and dt.datetime.fromisoformat(pending["expires_at"]) > clock.now():
        connection = selectors.sso_connection_by_organization_id(organization_id=pending["organization_id"])
    if connection is None:
        request.session.pop(SSO_LINK, None)
        return _refused(
            request,
            _(
                "No single sign-on is waiting to be linked (links wait 30 minutes). "
                "Sign in with single sign-on again."
            ),
            status=400,
        )
    organization = connection.organization
    context = {"organization": organization, "email": pending["email"], "error": None}
    if request.method == "POST":
        try:
            sso.sso_link(
                connection=connection,
                user=request.user,
                email=pending["email"],
                subject=pending["subject"],
                at=clock.now(),
            )
        except RuleViolation as exc:
            context["error"] = exc.message
        else:
            request.session.pop(SSO_LINK, None)
            messages.success(
                request,
                _("Your account is linked to the single sign-on of %(name)s.") % {"name": organization.name},
            )
            # The provider signs the person in once more, now as this account (rule (a)).
            return _start(request, connection)
    return render(request, "identity/sso_link.html", context, status=409 if context["error"] else 200)


def _sso_settings_response(request, *, form=None, domain_form=None, status=200):
    organization = request.organization
    connection = selectors.sso_connection_get(organization=organization)
    if form is None:
        initial = {}
        if connection is not None:
            initial = {
                "issuer": connection.issuer,
                "client_id": connection.client_id,
                "require_sso": connection.require_sso,
            }
        form = SsoSettingsForm(initial=initial, has_secret=connection is not None)
    claims = [
        {
            "claim": claim,
            "record_name": domains.challenge_name(claim.domain),
            "record_value": domains.challenge_value(claim.verification_token),
        }
        for claim in selectors.sso_domain_claims(organization=organization)
    ]
    context = {
        "form": form,
        "domain_form": domain_form or SsoDomainForm(),
        "claims": claims,
        "connection": connection,
        "callback_url": request.build_absolute_uri(reverse("identity_sso_callback")),
        "start_url": request.build_absolute_uri(
            reverse("identity_sso_start", kwargs={"organization": organization.slug})
        ),
    }
    return render(request, "identity/sso_settings.html", context, status=status)


@org_view(Capability.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def sso_settings(request, slug):
    if request.method == "GET":
        return _sso_settings_response(request)
    connection = selectors.sso_connection_get(organization=request.organization)
    form = SsoSettingsForm(request.POST, has_secret=connection is not None)
    if form.is_valid():
        data = form.cleaned_data
        try:
            discovery = oidc.discovery_fetch(issuer=data["issuer"])
            sso.sso_configure(
                organization=request.organization,
                discovery=discovery,
                client_id=data["client_id"],
                client_secret=data["client_secret"] or None,
                require_sso=data["require_sso"],
                at=clock.now(),
                acting_user=request.user,
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Single sign-on settings saved."))
            return redirect("identity_sso_settings", slug=slug)
    return _sso_settings_response(request, form=form, status=400)


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def sso_domain_add(request, slug):
    form = SsoDomainForm(request.POST)
    if form.is_valid():
        try:
            claim = domains.sso_domain_add(
                organization=request.organization,
                domain=form.cleaned_data["domain"],
                at=clock.now(),
                acting_user=request.user,
            )
        except RuleViolation as exc:
            form.add_error("domain", exc.message)
        else:
            messages.success(
                request,
                _("%(domain)s added. Publish its TXT record, then verify it.") % {"domain": claim.domain},
            )
            return redirect("identity_sso_settings", slug=slug)
    return _sso_settings_response(request, domain_form=form, status=400)


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def sso_domain_verify(request, slug, domain_id):
    try:
        claim = domains.sso_domain_verify(
            organization=request.organization, domain_id=domain_id, at=clock.now(), acting_user=request.user
        )
    except RuleViolation as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(domain)s is verified: its people can sign in through your provider.")
            % {"domain": claim.domain},
        )
    return redirect("identity_sso_settings", slug=slug)


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def sso_domain_remove(request, slug, domain_id):
    try:
        domains.sso_domain_remove(
            organization=request.organization, domain_id=domain_id, at=clock.now(), acting_user=request.user
        )
    except RuleViolation as exc:
        raise Http404(exc.message) from None
    messages.success(request, _("Domain removed."))
    return redirect("identity_sso_settings", slug=slug)


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def sso_remove(request, slug):
    sso.sso_remove(organization=request.organization, at=clock.now(), acting_user=request.user)
    messages.success(request, _("Single sign-on is turned off."))
    return redirect("identity_sso_settings", slug=slug)


# Waiting list and seat alert -------------------------------------------------------------------


def _language() -> str:
    return get_language() or settings.LANGUAGE_CODE


def _waiting_response(request, *, error: str = "", status: int = 200):
    at, on = clock.organization_now_and_today(request.organization)
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
    at, on = clock.organization_now_and_today(request.organization)
    try:
        admitted = waiting.waiting_admit(
            organization=request.organization,
            purchase_count=form.cleaned_data["count"],
            expected_token=form.cleaned_data["state_token"] or None,
            expected_waiting=int(request.POST.get("waiting", "-1")),
            on=on,
            at=at,
            acting_user=request.user,
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
