"""The documents list's filters, parsed from the query string (invalid values are ignored)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Invoice
from .presentation import CREDIT_NOTE, INVOICE


class DocumentFilterForm(forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), required=False, coerce=int, empty_value=None)
    type = forms.ChoiceField(
        label=_("Type"),
        required=False,
        choices=[("", _("All types")), (INVOICE, _("Invoices")), (CREDIT_NOTE, _("Credit notes"))],
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any status")),
            (Invoice.Status.OPEN, _("Open")),
            (Invoice.Status.PAID, _("Paid")),
            (Invoice.Status.VOID, _("Void")),
            (Invoice.Status.UNCOLLECTIBLE, _("Uncollectible")),
        ],
    )

    def __init__(self, data=None, *, years: list[int]):
        super().__init__(data)
        self.fields["year"].choices = [("", _("All years"))] + [(str(y), str(y)) for y in years]

    def filters(self) -> dict:
        """year, kind and status for the selector; a value that does not validate is left out."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "year": data.get("year") if "year" not in self.errors else None,
            "kind": data.get("type", "") if "type" not in self.errors else "",
            "status": data.get("status", "") if "status" not in self.errors else "",
        }
