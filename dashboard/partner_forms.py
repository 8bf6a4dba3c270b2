"""Forms of the partner pages (seed 003): they parse input; the rules live in the services."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from billing.domain.limits import MAX_SEATS
from organizations.forms import BillingDetailsForm

# The client's postal address, country (a select of ISO 3166 countries) and VAT ID, as on the
# settings page: the service checks them the same way for both.
_IDENTITY = BillingDetailsForm.base_fields


def _input(**attrs):
    return {"class": "input", **attrs}


class ClientCreateForm(forms.Form):
    name = forms.CharField(label=_("Company name"), max_length=200, widget=forms.TextInput(attrs=_input()))
    legal_name = forms.CharField(
        label=_("Legal name"), max_length=200, required=False, widget=forms.TextInput(attrs=_input())
    )
    address_line1 = _IDENTITY["address_line1"]
    address_line2 = _IDENTITY["address_line2"]
    postcode = _IDENTITY["postcode"]
    city = _IDENTITY["city"]
    region = _IDENTITY["region"]
    country = _IDENTITY["country"]
    vat_id = _IDENTITY["vat_id"]
    billing_email = forms.EmailField(
        label=_("Billing e-mail"),
        required=False,
        help_text=_("Where the company's own invoices go once it pays itself."),
        widget=forms.EmailInput(attrs=_input()),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        initial="da",
        help_text=_("E-mails to the company are written in it."),
        widget=forms.Select(attrs={"class": "select"}),
    )
    plan = forms.ChoiceField(
        label=_("Subscription"),
        required=False,
        help_text=_("Starts today and is invoiced to you while the agreement is internal."),
        widget=forms.Select(attrs={"class": "select"}),
    )
    seats = forms.IntegerField(
        label=_("Seats"),
        min_value=0,
        max_value=MAX_SEATS,
        required=False,
        widget=forms.NumberInput(attrs=_input()),
    )

    def __init__(self, *args, plan_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].initial = "DK"
        self.fields["plan"].choices = [("", _("No subscription yet")), *plan_choices]


class HandoverForm(forms.Form):
    """The seed's Edit dialog: the subscription the client will have and its superuser."""

    plan = forms.ChoiceField(label=_("Subscription"), widget=forms.RadioSelect)
    superuser_name = forms.CharField(
        label=_("Superuser name"), max_length=150, widget=forms.TextInput(attrs=_input())
    )
    superuser_reference = forms.CharField(
        label=_("Superuser ID"),
        max_length=64,
        required=False,
        help_text=_("The company's own reference for this person."),
        widget=forms.TextInput(attrs=_input()),
    )
    superuser_email = forms.EmailField(
        label=_("Superuser e-mail"),
        help_text=_("Becomes the company's owner: receives the log-in link (valid 7 days)."),
        widget=forms.EmailInput(attrs=_input()),
    )
    state_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, plan_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = list(plan_choices)
