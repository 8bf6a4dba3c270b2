"""Pages of the organizations app: log in, its settings and audit log.

Each parses, authorizes (org_view), calls one selector or service and renders. The members
page and the invitation link take seats, so they live in `seats.views`; creating an
organization starts its subscription, so it lives in `dashboard.views`.
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core import clock
from core.site import absolute_url

from . import formatting as fmt
from . import selectors, services, throttling
from .errors import RuleViolation
from .forms import (
    AccountClaimingPasswordResetForm,
    BillingDetailsForm,
    LockoutAwareAuthenticationForm,
    OrganizationCreateForm,
    PreferencesForm,
)
from .tenancy import Capability, has_capability
from .views_base import org_view, throttled_response

# ---------------------------------------------------------------------------
# Logging in and resetting a password (organizations.throttling holds the limits)


class LoginView(auth_views.LoginView):
    """Password login; paused after too many failures for the account or the address: the
    page says until when, with 429 and Retry-After."""

    form_class = LockoutAwareAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        return throttled_response(super().form_invalid(form), getattr(self.request, "login_lock", None))


class PasswordResetView(auth_views.PasswordResetView):
    """The reset link by e-mail, at most so many times an hour per address and per e-mail
    (the same answer whether the e-mail has an account or not). It also reaches accounts
    that SCIM or single sign-on made without a password: their owners claim them so."""

    form_class = AccountClaimingPasswordResetForm

    def form_valid(self, form):
        try:
            throttling.password_reset_requested(self.request, email=form.cleaned_data["email"])
        except throttling.Throttled as exc:
            form.add_error(None, exc.message)
            return throttled_response(self.form_invalid(form), exc)
        # The link starts with the site's address (core.site), not the request's Host header.
        self.extra_email_context = {"site_url": absolute_url("")}
        return super().form_valid(form)


# ---------------------------------------------------------------------------
# Home


@login_required
def home(request):
    organization = selectors.organization_first_for_user(user=request.user)
    if organization is not None:
        return redirect("organization_overview", slug=organization.slug)
    return render(request, "organizations/no_organization.html", {"form": OrganizationCreateForm()})


@org_view(Capability.MANAGE_TAX_IDENTITY)
@require_http_methods(["GET", "POST"])
def organization_settings(request, slug):
    organization = request.organization
    if request.method == "POST":
        form = BillingDetailsForm(request.POST)
        if form.is_valid():
            try:
                services.organization_update_billing_details(
                    organization=organization, at=clock.now(), acting_user=request.user, **form.cleaned_data
                )
            except RuleViolation as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Billing details saved. New invoices use them."))
                return redirect("organization_settings", slug=organization.slug)
    else:
        form = BillingDetailsForm(initial=BillingDetailsForm.initial_from(organization))
    return _settings_page(request, form=form)


def _settings_page(request, *, form=None, preferences_form=None, status=200):
    """The settings page: the tax identity (owners and finance) and, for owners, the preferences."""
    organization = request.organization
    check = fmt.vat_id_check(
        organization.vat_id_check if organization.vat_id else "",
        organization.vat_id_checked_on,
        translation.get_language(),
    )
    if preferences_form is None and has_capability(request.membership, Capability.MANAGE_SETTINGS):
        preferences_form = PreferencesForm(initial=PreferencesForm.initial_from(organization))
    context = {
        "form": form or BillingDetailsForm(initial=BillingDetailsForm.initial_from(organization)),
        "preferences_form": preferences_form,
        "vat_id_check": check,
    }
    return render(request, "organizations/settings.html", context, status=status)


@org_view(Capability.MANAGE_SETTINGS)
@require_http_methods(["POST"])
def organization_preferences(request, slug):
    organization = request.organization
    form = PreferencesForm(request.POST)
    if form.is_valid():
        try:
            services.organization_update_preferences(
                organization=organization, at=clock.now(), acting_user=request.user, **form.cleaned_data
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Settings saved. New documents and e-mails use them."))
            return redirect("organization_settings", slug=organization.slug)
    return _settings_page(request, preferences_form=form)


@org_view(Capability.VIEW_AUDIT_LOG)
@require_http_methods(["GET"])
def organization_audit_log(request, slug):
    page = selectors.audit_log_page(
        organization=request.organization, page_number=request.GET.get("page") or 1
    )
    return render(request, "organizations/audit_log.html", {"page": page})
