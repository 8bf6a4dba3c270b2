"""Forms of the identity pages: they parse input; the services decide."""

from django import forms
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from billing.domain.limits import MAX_SEATS
from organizations.forms import LockoutAwareAuthenticationForm

from .selectors import sso_required_organizations


def _input(**attrs):
    return {"class": "input", **attrs}


class SsoSettingsForm(forms.Form):
    issuer = forms.URLField(
        assume_scheme="https",
        label=_("Issuer"),
        max_length=300,
        help_text=_("Your provider's issuer URL; we read its /.well-known/openid-configuration."),
        widget=forms.URLInput(attrs=_input(placeholder="https://login.example.com")),
    )
    client_id = forms.CharField(label=_("Client ID"), max_length=255, widget=forms.TextInput(attrs=_input()))
    client_secret = forms.CharField(
        label=_("Client secret"),
        max_length=500,
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs=_input(autocomplete="new-password"), render_value=False),
    )
    require_sso = forms.BooleanField(
        label=_("Require SSO: refuse password login for members (owners keep it, to fix a broken setup)"),
        required=False,
    )

    def __init__(self, *args, has_secret: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client_secret"].help_text = (
            _("Stored encrypted and never shown again. Leave empty to keep the current secret.")
            if has_secret
            else _("Stored encrypted and never shown again.")
        )


class SsoDomainForm(forms.Form):
    domain = forms.CharField(
        label=_("E-mail domain"),
        max_length=253,
        help_text=_("Your organization's own domain, e.g. example.com. You prove it with a DNS record."),
        widget=forms.TextInput(attrs=_input(placeholder="example.com", autocomplete="off")),
    )


class SeatAlertForm(forms.Form):
    free_seats_at = forms.IntegerField(
        label=_("E-mail owners when free seats fall to"),
        min_value=0,
        max_value=10_000,
        required=False,
        help_text=_("Leave empty to turn the alert off."),
        widget=forms.NumberInput(attrs=_input(inputmode="numeric")),
    )


class AdmitForm(forms.Form):
    """Confirming the waiting page: how many seats were reviewed, and for which state."""

    count = forms.IntegerField(min_value=0, max_value=MAX_SEATS)
    state_token = forms.CharField(max_length=64, required=False)


class SsoFindForm(forms.Form):
    email = forms.EmailField(label=_("Work e-mail"), widget=forms.EmailInput(attrs=_input(autofocus=True)))


class SsoAwareAuthenticationForm(LockoutAwareAuthenticationForm):
    """Password login that refuses members of organizations requiring single sign-on.

    Checked only after the password matched, so it reveals nothing to someone guessing.
    """

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        organizations = sso_required_organizations(user=user)
        if organizations:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                (
                    (reverse("identity_sso_start", kwargs={"organization": o.slug}), o.name)
                    for o in organizations
                ),
            )
            raise forms.ValidationError(
                format_html(_("Sign in with single sign-on: {} requires it."), links), code="sso_required"
            )
