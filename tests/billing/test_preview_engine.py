"""The one preview engine (billing.preview) and its state token (billing.state_token).

A preview runs the real service and rolls it back whatever happens, after-commit work
included; its token says which state the amounts shown were computed for, and a
confirmation carrying another token (the state changed, the token was altered, made with
another key, or made on another day) is refused, changing nothing.
"""

import datetime as dt
import re

import pytest
from django.db import transaction

from billing.preview import dry_run, rolled_back
from billing.selectors import seats_total, state_token
from billing.services import plan_change
from billing.state_token import PreviewStale, state_token_check, state_token_sign
from invoices.models import Invoice
from organizations.errors import RuleViolation
from organizations.models import Agreement, Organization
from seats import services as seat_services
from seats.previews import seat_purchase_preview
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory, OrganizationFactory, PlanFactory

pytestmark = pytest.mark.django_db
MAR_1, MAR_16, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 16), dt.date(2026, 3, 17)


def team():
    """Monthly team plan (20.00 + 10.00 a seat beyond 3) with 6 seats from 1 March."""
    return subscribed_organization(
        start=MAR_1, seats=6, base_price_minor=2000, seat_price_minor=1000, included_seats=3
    )


# ---------------------------------------------------------------------------
# rolled_back


def test_rolled_back_returns_the_result_and_keeps_no_write_nor_after_commit_work(
    django_capture_on_commit_callbacks,
):
    before = Organization.objects.count()
    sent = []

    def run():
        made = OrganizationFactory()
        transaction.on_commit(lambda: sent.append("e-mail"))
        return made.name

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        name = rolled_back(run)
    assert name.startswith("Company ")
    assert Organization.objects.count() == before
    assert callbacks == [] and sent == []


@pytest.mark.parametrize("error", [ValueError("boom"), RuleViolation("Refused.", code="refused")])
def test_rolled_back_rolls_back_when_the_run_raises_and_passes_the_exception_on(
    error, django_capture_on_commit_callbacks
):
    before = Organization.objects.count()

    def run():
        OrganizationFactory()
        transaction.on_commit(lambda: None)
        raise error

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(type(error)) as raised:
        rolled_back(run)
    assert raised.value is error
    assert Organization.objects.count() == before
    assert callbacks == []


def test_rolled_back_inside_an_open_transaction_undoes_only_its_own_writes():
    before = Organization.objects.count()
    with transaction.atomic():
        kept = OrganizationFactory()
        rolled_back(OrganizationFactory)
        assert Organization.objects.count() == before + 1
        assert Organization.objects.filter(pk=kept.pk).exists()
    assert Organization.objects.count() == before + 1


# ---------------------------------------------------------------------------
# dry_run


def test_a_dry_run_reads_what_the_service_issued_then_leaves_nothing(django_assert_num_queries):
    organization, subscription, owner = team()
    for _ in range(5):  # six members need the six seats: a plan change carries over only those
        MembershipFactory(organization=organization)
    bigger = PlanFactory(base_price_minor=5000, seat_price_minor=1500, included_seats=5)
    token = state_token(organization=organization, on=MAR_17)
    done = dry_run(
        organization=organization,
        on=MAR_17,
        at=at(MAR_17),
        run=lambda: plan_change(organization=organization, plan=bigger, on=MAR_17, at=at(MAR_17)),
    )
    assert done.refusal is None and done.state_token == token
    (invoice,) = done.invoices
    with django_assert_num_queries(0):  # read inside the rolled-back block
        # 15/31 of March left: old base -967.74 and 3 seats -1451.61; new base 2419.35 and 1 seat 725.81.
        assert sorted(line.amount_minor for line in invoice.lines.all()) == [-1452, -968, 726, 2419]
    assert (invoice.reason, invoice.total_minor) == ("plan_change", 906)
    assert done.credit_notes == [] and done.pending_charges == []
    assert list(Invoice.objects.filter(organization=organization).values_list("reason", flat=True)) == [
        "subscription_create"
    ]
    subscription.refresh_from_db()
    assert subscription.plan_id != bigger.pk


def test_a_refusal_is_the_dry_runs_result_and_nothing_written_before_it_stays():
    organization, subscription, owner = team()
    before = Organization.objects.count()

    def run():
        OrganizationFactory()
        raise RuleViolation("Refused.", code="refused", field="plan")

    done = dry_run(organization=organization, on=MAR_17, at=at(MAR_17), run=run)
    assert (done.refusal.code, done.refusal.field) == ("refused", "plan")
    assert done.state_token == state_token(organization=organization, on=MAR_17)
    assert done.invoices == [] and done.credit_notes == [] and done.pending_charges == []
    assert Organization.objects.count() == before


def test_a_dry_run_reads_the_token_it_is_given_after_the_renewal_due():
    """The token is of the state a confirmation will see: after the renewal due on the day."""
    organization, subscription, owner = team()
    renewal_day = dt.date(2026, 4, 1)
    seen = []
    done = dry_run(
        organization=organization,
        on=renewal_day,
        at=at(renewal_day),
        run=lambda: None,
        token=lambda: seen.append(Invoice.objects.filter(organization=organization).count()) or "token",
    )
    assert done.state_token == "token"
    assert seen == [2], "the renewal invoice existed when the token was read"
    assert Invoice.objects.filter(organization=organization).count() == 1, "and was rolled back"


# ---------------------------------------------------------------------------
# The state token


def test_the_token_is_32_hex_characters_and_the_same_for_the_same_state():
    organization, subscription, owner = team()
    token = state_token(organization=organization, on=MAR_17)
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert state_token(organization=organization, on=MAR_17) == token
    assert state_token_sign([1, "a"]) != state_token_sign([1, "b"])
    # A value reads the same from memory and from the database.
    assert state_token_sign([Agreement.INTERNAL, (MAR_17, 2)]) == state_token_sign(["internal", [MAR_17, 2]])


def _buy_two(organization, owner, token, on=MAR_17):
    seat_services.seat_purchase(
        organization=organization, count=2, on=on, at=at(on), acting_user=owner, expected_token=token
    )


def test_a_token_is_refused_when_the_state_changed_and_nothing_changes():
    organization, subscription, owner = team()
    preview = seat_purchase_preview(organization=organization, count=2, on=MAR_17, at=at(MAR_17))
    seat_services.seat_purchase(
        organization=organization, count=1, on=MAR_17, at=at(MAR_17), acting_user=owner
    )
    invoices = Invoice.objects.count()
    with pytest.raises(PreviewStale) as refused:
        _buy_two(organization, owner, preview.state_token)
    assert refused.value.code == "preview_stale"
    assert "Something changed since you reviewed this" in refused.value.message
    assert seats_total(subscription=subscription) == 7 and Invoice.objects.count() == invoices


def test_a_tampered_token_is_refused_and_the_true_one_still_confirms():
    organization, subscription, owner = team()
    token = seat_purchase_preview(organization=organization, count=2, on=MAR_17, at=at(MAR_17)).state_token
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    invoices = Invoice.objects.count()
    for tampered in [flipped, token.upper(), token[:-1], token + "0", "0" * 32, "not a token"]:
        with pytest.raises(PreviewStale):
            _buy_two(organization, owner, tampered)
    assert seats_total(subscription=subscription) == 6 and Invoice.objects.count() == invoices
    _buy_two(organization, owner, token)
    assert seats_total(subscription=subscription) == 8


def test_a_token_made_under_another_secret_key_is_refused(settings):
    organization, subscription, owner = team()
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    foreign = state_token(organization=organization, on=MAR_17)
    settings.SECRET_KEY = "the-project-secret-key-" + "y" * 40
    with pytest.raises(PreviewStale):
        _buy_two(organization, owner, foreign)
    assert seats_total(subscription=subscription) == 6


def test_a_token_expires_with_its_day():
    """The token has no clock of its own: the billing date is part of the state."""
    organization, subscription, owner = team()
    yesterday = seat_purchase_preview(organization=organization, count=2, on=MAR_16, at=at(MAR_16))
    with pytest.raises(PreviewStale):
        _buy_two(organization, owner, yesterday.state_token, on=MAR_17)
    assert seats_total(subscription=subscription) == 6


def test_without_a_token_there_is_nothing_to_compare():
    state_token_check(expected_token=None, current_token="0" * 32)
    state_token_check(expected_token="", current_token="0" * 32)
    with pytest.raises(PreviewStale, match="Look again"):
        state_token_check(expected_token="1" * 32, current_token="0" * 32, message="Look again.")
