"""Payment methods: Checkout (setup mode), the Billing Portal, and the events that change cards."""

import pytest
import requests

from organizations.models import Role
from payments import customers
from payments.models import PaymentMethod, StripeCustomer
from tests.factories import MembershipFactory

from .support import (
    CARD_OK,
    card_add,
    deliver,
    event_for,
    ls_events,
    ls_get,
    ls_post,
    organization_with_owner,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_owner_adds_a_card_through_checkout_and_sees_it_as_default(stripe_on, frozen_clock, client):
    """ "Add a card" opens a Checkout session in setup mode for the organization's Stripe
    customer (created then, once); the customer types a card on Stripe's page and comes
    back to our page, which reads the cards from Stripe: brand, last 4 and expiry shown,
    and the card is the customer's default at Stripe too."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    client.force_login(owner)
    payments = f"/o/{organization.slug}/billing/payments/"
    assert "No card yet" in client.get(payments).content.decode()

    answer = client.post(f"{payments}card/")
    assert answer.status_code == 302 and answer.url.startswith(f"{stripe_on}/_config/fake/checkout/cs_test_")
    customer = StripeCustomer.objects.get(organization=organization)
    session_id = answer.url.rsplit("/", 1)[1]
    session = ls_get(stripe_on, f"/v1/checkout/sessions/{session_id}")
    assert (session["mode"], session["customer"]) == ("setup", customer.stripe_id)

    back = requests.post(f"{answer.url}/complete", data={"card": CARD_OK}, allow_redirects=False, timeout=10)
    assert back.headers["Location"] == f"http://testserver{payments}card/added/?session_id={session_id}"
    assert client.get(f"{payments}card/added/?session_id={session_id}").status_code == 302

    method = PaymentMethod.objects.get(organization=organization)
    assert (method.brand, method.last4, method.exp_month, method.exp_year, method.is_default) == (
        "visa",
        "4242",
        12,
        2034,
        True,
    )
    stripe_customer = ls_get(stripe_on, f"/v1/customers/{customer.stripe_id}")
    assert stripe_customer["invoice_settings"]["default_payment_method"] == method.stripe_id
    page = client.get(payments).content.decode()
    assert "Visa ···· 4242" in page and "expires 12/2034" in page

    client.post(f"{payments}card/")
    assert StripeCustomer.objects.filter(organization=organization).count() == 1


def test_card_events_are_applied_from_the_current_state_in_any_order(stripe_on, frozen_clock):
    """Two cards; the newer is the default. The owner removes it in the Billing Portal:
    payment_method.detached leaves the older card as the (new) default. The attached event
    of the removed card, arriving late, changes nothing: the card is detached now. Last, a
    default chosen at Stripe (as in the portal) arrives as customer.updated and is read
    from the customer."""
    organization, owner = organization_with_owner(at=frozen_clock.at)
    card_add(organization, number=CARD_OK, at=frozen_clock.at)
    card_add(organization, number="5555555555554444", at=frozen_clock.at)
    first, second = PaymentMethod.objects.filter(organization=organization).order_by("id")
    assert (first.is_default, second.is_default) == (False, True)

    portal = customers.billing_portal_session(
        organization=organization, return_url="https://x/back", at=frozen_clock.at
    )
    detach = requests.post(
        f"{portal.url}/detach", data={"payment_method": second.stripe_id}, allow_redirects=False, timeout=10
    )
    assert detach.status_code == 303
    (detached,) = ls_events(stripe_on, event_type="payment_method.detached", object_id=second.stripe_id)
    assert deliver(detached, at=frozen_clock.at).status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default, second.detached_at) == (True, False, frozen_clock.at)

    attached = ls_events(stripe_on, event_type="payment_method.attached", object_id=second.stripe_id)[0]
    assert deliver(attached, at=frozen_clock.at).status_code == 200
    second.refresh_from_db()
    assert second.detached_at is not None

    third = ls_post(
        stripe_on,
        "/v1/payment_methods",
        **{
            "type": "card",
            "card[number]": "4000056655665556",
            "card[exp_month]": "3",
            "card[exp_year]": "2031",
            "card[cvc]": "123",
        },
    )
    customer_id = organization.stripe_customer.stripe_id
    ls_post(stripe_on, f"/v1/payment_methods/{third['id']}/attach", customer=customer_id)
    ls_post(
        stripe_on, f"/v1/customers/{customer_id}", **{"invoice_settings[default_payment_method]": third["id"]}
    )
    updated = ls_events(stripe_on, event_type="customer.updated", object_id=customer_id)[-1]
    assert deliver(updated, at=frozen_clock.at).status_code == 200
    default = PaymentMethod.objects.get(organization=organization, is_default=True)
    assert (default.stripe_id, default.last4, default.exp_month) == (third["id"], "5556", 3)


def test_manage_billing_opens_the_billing_portal_for_owners_only(stripe_on, frozen_clock, client):
    organization, owner = organization_with_owner(at=frozen_clock.at)
    payments = f"/o/{organization.slug}/billing/payments/"
    client.force_login(owner)
    answer = client.post(f"{payments}portal/")
    assert answer.status_code == 302 and answer.url.startswith(
        f"{stripe_on}/_config/fake/billing_portal/bps_"
    )

    member = MembershipFactory(organization=organization, role=Role.MEMBER)
    client.force_login(member.user)
    assert client.get(payments).status_code == 403
    assert client.post(f"{payments}portal/").status_code == 403
    assert client.post(f"{payments}card/").status_code == 403


def test_a_card_event_about_someone_else_is_ignored(stripe_on, frozen_clock):
    event = event_for(
        {"id": "pm_card_visa", "object": "payment_method"}, "payment_method.attached", created=1
    )
    assert deliver(event, at=frozen_clock.at).status_code == 200
    assert not PaymentMethod.objects.exists()
