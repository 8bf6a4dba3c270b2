"""The handover's preview runs on the one preview engine and its token follows the one scheme
(billing.preview, billing.state_token): the token covers what a settlement depends on beyond
the client's own billing state (the agreement, both parties' balances), and a confirmation
with another token (the state changed, or the token was altered or is the client's own plan
change token) is refused, changing nothing."""

import datetime as dt
import re

import pytest

from billing.selectors import state_token, subscription_live
from billing.state_token import PreviewStale
from invoices.models import CreditBalanceEntry, CreditNote, Invoice
from organizations.models import Agreement
from partners import services as billing_partners

from .support import at, client, monthly_plans, partner_firm

pytestmark = pytest.mark.django_db
MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)
SUPERUSER = {
    "superuser_name": "Mette Hansen",
    "superuser_reference": "MH-1",
    "superuser_email": "mette@bageriet.dk",
}


@pytest.fixture
def bakery():
    """A Danish client on Team (300.00 + 2 seats × 50.00) from 1 March 2026, paid by its partner."""
    partner, anna = partner_firm()
    team, plus = monthly_plans()
    link = client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5, country="DK")
    return link, plus, anna


def _preview(link, plan, anna):
    return billing_partners.agreement_handover_preview(
        link=link, plan=plan, on=MAR_17, at=at(MAR_17), acting_user=anna, **SUPERUSER
    )


def _handover(link, plan, anna, token):
    return billing_partners.agreement_handover(
        link=link, plan=plan, on=MAR_17, at=at(MAR_17), acting_user=anna, expected_token=token, **SUPERUSER
    )


def _nothing_changed(link, documents):
    link.refresh_from_db()
    assert link.agreement == Agreement.INTERNAL
    assert (Invoice.objects.count(), CreditNote.objects.count()) == documents


def test_the_settlement_token_is_refused_when_the_clients_own_balance_changed(bakery):
    """Under an internal agreement the client's balance pays nothing, so the client's own token
    ignores it; the settlement credits it, so the handover's token does not."""
    link, plus, anna = bakery
    preview = _preview(link, plus, anna)
    assert preview.allowed and re.fullmatch(r"[0-9a-f]{32}", preview.token)
    own_token = state_token(organization=link.organization, on=MAR_17)
    CreditBalanceEntry.objects.create(
        organization=link.organization,
        currency=subscription_live(organization=link.organization).plan.currency,
        amount_minor=100,
        kind=CreditBalanceEntry.Kind.ADJUSTMENT,
        effective_on=MAR_17,
        created_at=at(MAR_17),
    )
    assert state_token(organization=link.organization, on=MAR_17) == own_token
    documents = (Invoice.objects.count(), CreditNote.objects.count())
    with pytest.raises(PreviewStale) as refused:
        _handover(link, plus, anna, preview.token)
    assert "agreement" in refused.value.message
    _nothing_changed(link, documents)
    assert _handover(link, plus, anna, _preview(link, plus, anna).token).link.agreement == Agreement.EXTERNAL


def test_an_altered_token_or_the_clients_plan_change_token_does_not_confirm_a_handover(bakery):
    link, plus, anna = bakery
    token = _preview(link, plus, anna).token
    documents = (Invoice.objects.count(), CreditNote.objects.count())
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for other in [flipped, token.upper(), "0" * 32, state_token(organization=link.organization, on=MAR_17)]:
        with pytest.raises(PreviewStale):
            _handover(link, plus, anna, other)
    _nothing_changed(link, documents)
    assert _handover(link, plus, anna, token).link.agreement == Agreement.EXTERNAL
