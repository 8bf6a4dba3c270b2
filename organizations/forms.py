"""Forms parse input; the rules (unique slug, 2-letter country, last owner...) live in services."""

import unicodedata

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from .models import (
    ADDRESS_LINE_MAX_LENGTH,
    CITY_MAX_LENGTH,
    POSTCODE_MAX_LENGTH,
    Organization,
    Role,
)


def _input(**attrs):
    return {"class": "input", **attrs}


def _country_choices():
    """ISO 3166 countries, named and sorted in the reader's language (django-countries)."""
    return list(countries)


class CountryField(forms.ChoiceField):
    """A select of ISO 3166 codes; typed or posted in lower case ("dk") it still matches."""

    default_error_messages = {"invalid_choice": _("Choose a country from the list.")}

    def to_python(self, value):
        return super().to_python(value).strip().upper()


def _country_field(**kwargs) -> forms.ChoiceField:
    return CountryField(
        label=_("Country"),
        choices=_country_choices,
        widget=forms.Select(attrs={"class": "select", "autocomplete": "country"}),
        **kwargs,
    )


class LockoutAwareAuthenticationForm(AuthenticationForm):
    """Password login that says so when sign-in is paused after too many failures
    (organizations.throttling sets request.login_lock), instead of "wrong password".
    People log in with their e-mail address (the username), so the field says so."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("E-mail")

    def get_invalid_login_error(self):
        lock = getattr(self.request, "login_lock", None)
        if lock is not None:
            return forms.ValidationError(lock.message, code="locked")
        return super().get_invalid_login_error()


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=200, widget=forms.TextInput(attrs=_input(autofocus=True))
    )
    country = _country_field(initial="DK", help_text=_("Decides tax on invoices."))


class BillingDetailsForm(forms.Form):
    """The tax identity; the service checks the VAT ID against the country (core.tax_ids)."""

    legal_name = forms.CharField(
        label=_("Company name"), max_length=200, required=False, widget=forms.TextInput(attrs=_input())
    )
    address_line1 = forms.CharField(
        label=_("Address"),
        max_length=ADDRESS_LINE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs=_input(autocomplete="address-line1")),
    )
    address_line2 = forms.CharField(
        label=_("Address, line 2"),
        max_length=ADDRESS_LINE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs=_input(autocomplete="address-line2")),
    )
    postcode = forms.CharField(
        label=_("Postcode"),
        max_length=POSTCODE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs=_input(autocomplete="postal-code")),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=CITY_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs=_input(autocomplete="address-level2")),
    )
    region = forms.CharField(
        label=_("State or region"),
        max_length=CITY_MAX_LENGTH,
        required=False,
        help_text=_("Only where addresses in your country use one."),
        widget=forms.TextInput(attrs=_input(autocomplete="address-level1")),
    )
    country = _country_field(help_text=_("Decides the VAT on invoices."))
    vat_id = forms.CharField(
        label=_("VAT ID"),
        max_length=32,
        required=False,
        help_text=_("With its country prefix, such as DK13585628 (Greece: EL)."),
        widget=forms.TextInput(attrs=_input()),
    )
    billing_email = forms.EmailField(
        label=_("Billing e-mail"),
        required=False,
        help_text=_("Invoices and receipts are sent here."),
        widget=forms.EmailInput(attrs=_input()),
    )

    @classmethod
    def initial_from(cls, organization: Organization) -> dict:
        return {name: getattr(organization, name) for name in cls.base_fields}


class PreferencesForm(forms.Form):
    """What owners set for the whole organization (the service checks the values)."""

    language = forms.ChoiceField(
        label=_("Language of documents and e-mails"),
        choices=settings.LANGUAGES,
        help_text=_("Invoices, credit notes, their pages and every e-mail to the organization."),
        widget=forms.Select(attrs={"class": "select"}),
    )
    payment_terms_days = forms.IntegerField(
        label=_("Payment terms (days)"),
        min_value=0,
        max_value=90,
        help_text=_(
            "Days from an invoice's date to its due date. Invoices charged to a card are due on receipt."
        ),
        widget=forms.NumberInput(attrs=_input()),
    )

    @classmethod
    def initial_from(cls, organization: Organization) -> dict:
        return {name: getattr(organization, name) for name in cls.base_fields}


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail"), widget=forms.EmailInput(attrs=_input(placeholder=_("name@company.com")))
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Role.choices,
        initial=Role.MEMBER,
        widget=forms.Select(attrs={"class": "select"}),
    )

    seat_interval = forms.ChoiceField(label=_("Billing"), required=False, widget=forms.RadioSelect)

    def __init__(self, *args, role_choices=None, interval_choices=None, **kwargs):
        """`interval_choices`: [(value, label)] on plans with per-member billing intervals
        (then one must be picked); none or empty: the plan's seats are one pool."""
        super().__init__(*args, **kwargs)
        if role_choices is not None:
            self.fields["role"].choices = role_choices
        if interval_choices:
            self.fields["seat_interval"].choices = interval_choices
            self.fields["seat_interval"].required = True
        else:
            del self.fields["seat_interval"]


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class IntervalChangeForm(forms.Form):
    """A member's next billing interval; the service checks that the plan offers it."""

    interval = forms.CharField(max_length=8)


class SeatReassignForm(forms.Form):
    email = forms.EmailField(
        label=_("Give the seat to"),
        help_text=_(
            "Their work e-mail. They get an invitation (or use the one they have) and take over the "
            "seat when they accept it."
        ),
        widget=forms.EmailInput(attrs=_input()),
    )


class AcceptSignupForm(forms.Form):
    """A new person sets a password to join; the e-mail is the invitation's."""

    first_name = forms.CharField(
        label=_("First name"), max_length=150, required=False, widget=forms.TextInput(attrs=_input())
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=150, required=False, widget=forms.TextInput(attrs=_input())
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs=_input(autocomplete="new-password")),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs=_input(autocomplete="new-password")),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            User = get_user_model()
            candidate = User(
                username=self.email,
                email=self.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


def _same_address(a: str, b: str) -> bool:
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()


class AccountClaimingPasswordResetForm(PasswordResetForm):
    """Password reset that also reaches accounts without a usable password.

    Single sign-on and SCIM create accounts without a password; their owners claim them by
    setting one, and the reset e-mail proves the address. Django's form skips such
    accounts (they might authenticate elsewhere); here every account authenticates here.
    """

    def get_users(self, email):
        User = get_user_model()
        email_field = User.get_email_field_name()
        candidates = User._default_manager.filter(**{f"{email_field}__iexact": email, "is_active": True})
        return (user for user in candidates if _same_address(email, getattr(user, email_field)))
