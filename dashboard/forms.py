"""Forms of the dashboard: they parse what the pages send; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.domain.limits import MAX_SEATS


class SeatIncreaseForm(forms.Form):
    """Pencil on "Seats": the new number of seats (seed 002). Only an increase is bought here;
    the service refuses what the plan does not allow (a cap, an interval it does not bill)."""

    seats = forms.IntegerField(label=_("Seats"), min_value=1, max_value=MAX_SEATS)
    interval = forms.ChoiceField(label=_("Billed"), required=False, choices=())

    def __init__(self, *args, seats_now: int, intervals: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.seats_now = seats_now
        self.fields["seats"].min_value = seats_now + 1
        self.fields["seats"].widget.attrs.update(min=seats_now + 1, inputmode="numeric")
        self.fields["seats"].help_text = ngettext(
            "You have %(count)s seat now. Enter the new total.",
            "You have %(count)s seats now. Enter the new total.",
            seats_now,
        ) % {"count": seats_now}
        if intervals:
            self.fields["interval"].choices = [(i.value, f"{i.label} ({i.price_text})") for i in intervals]
            self.fields["interval"].required = True
        else:
            del self.fields["interval"]

    def clean_seats(self):
        seats = self.cleaned_data["seats"]
        if seats <= self.seats_now:
            raise forms.ValidationError(
                ngettext(
                    "Enter more than the %(count)s seat you have. Seats are not removed here: reassign them.",
                    "Enter more than the %(count)s seats you have. "
                    "Seats are not removed here: reassign them.",
                    self.seats_now,
                ),
                params={"count": self.seats_now},
            )
        return seats

    @property
    def count(self) -> int:
        return self.cleaned_data["seats"] - self.seats_now


class ConfirmForm(forms.Form):
    """Confirming a preview: the token says which state the reviewed amounts were computed for."""

    state_token = forms.CharField(max_length=64)


class PlanChangeConfirmForm(ConfirmForm):
    """Confirming a plan change; a move below today's usage also needs the explicit "I accept"
    (the service refuses it otherwise)."""

    accept_over_limits = forms.BooleanField(required=False)


class SeatPurchaseConfirmForm(ConfirmForm):
    count = forms.IntegerField(min_value=1, max_value=MAX_SEATS)
    interval = forms.CharField(max_length=8, required=False)
    # The total the owner typed: a stale confirmation is previewed again for this total, so
    # the number they typed stays (25 stays 25) and what to buy follows the seats there are now.
    seats = forms.IntegerField(min_value=1, max_value=MAX_SEATS, required=False)


class UnitCreateForm(forms.Form):
    """A unit other than seats to create (seed 001): what it is called, e.g. the phone number."""

    label = forms.CharField(label=_("Number or name"), max_length=64, strip=True)


class UnitCreateConfirmForm(ConfirmForm, UnitCreateForm):
    pass
