"""Every call to Stripe: the only module that imports `stripe`.

It takes and returns plain values (payments.gateway), sends the idempotency key
its caller derived from our ids, and maps Stripe's errors onto ours:

- connection trouble, rate limits, 409 conflicts and 5xx: `GatewayUnavailable` (retry the
  same request with the same key);
- invalid requests, authentication and permission errors: `GatewayRequestRefused`
  (`GatewayNotFound` for a 404);
- a declined off-session charge is not an error but an outcome: the PaymentIntent comes
  back with status `requires_payment_method` and the decline code.

It decides nothing about our invoices. `STRIPE_API_BASE` points it at another server
(localstripe and a small fake in the tests).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import stripe

from payments.gateway import (
    CustomerDetails,
    GatewayCharge,
    GatewayCustomer,
    GatewayNotFound,
    GatewayPaymentIntent,
    GatewayPaymentMethod,
    GatewayRefund,
    GatewayRequestRefused,
    GatewaySession,
    GatewayUnavailable,
    WebhookSignatureInvalid,
)

# stripe-python retries connection errors, 409s and 5xx itself, with the same key.
MAX_NETWORK_RETRIES = 2
# Tax ID types Stripe knows for the EU's VAT numbers; other countries' IDs are not sent.
EU_VAT_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


@contextmanager
def _mapped_errors(what: str) -> Iterator[None]:
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise GatewayUnavailable(f"{what}: {exc.user_message or exc}", code=exc.code or "") from exc
    except stripe.IdempotencyError as exc:
        # 400: the key was used with other parameters (a bug of ours); 409: still in flight.
        cls = GatewayUnavailable if exc.http_status == 409 else GatewayRequestRefused
        raise cls(f"{what}: {exc.user_message or exc}", code="idempotency_error") from exc
    except stripe.InvalidRequestError as exc:
        cls = GatewayNotFound if exc.http_status == 404 else GatewayRequestRefused
        raise cls(f"{what}: {exc.user_message or exc}", code=exc.code or "") from exc
    except (stripe.AuthenticationError, stripe.PermissionError, stripe.CardError) as exc:
        raise GatewayRequestRefused(f"{what}: {exc.user_message or exc}", code=exc.code or "") from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 500
        cls = GatewayUnavailable if status >= 500 or status == 409 else GatewayRequestRefused
        raise cls(f"{what}: {exc.user_message or exc}", code=exc.code or "") from exc


def _plain(obj) -> dict:
    """stripe-python's objects are not dicts (since v13): read them as plain data."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj or {})


def _id(value) -> str | None:
    """An id from a field Stripe returns either as an id or as the expanded object."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def _address(details: CustomerDetails) -> dict:
    lines = [line.strip() for line in details.address.replace(",", "\n").splitlines() if line.strip()]
    address = {"country": details.country}
    if lines:
        address["line1"] = lines[0]
    if len(lines) > 1:
        address["line2"] = ", ".join(lines[1:])
    return address


def _customer_params(details: CustomerDetails) -> dict:
    return {
        "name": details.name,
        "email": details.email,
        "address": _address(details),
        "preferred_locales": [details.language],
        "metadata": {"organization_id": str(details.organization_id)},
    }


def _payment_method(obj) -> GatewayPaymentMethod:
    obj = _plain(obj)
    card = obj.get("card") or {}
    return GatewayPaymentMethod(
        id=obj["id"],
        customer_id=_id(obj.get("customer")),
        kind=obj.get("type") or "",
        brand=card.get("brand") or "",
        last4=card.get("last4") or (obj.get("sepa_debit") or {}).get("last4") or "",
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        created=int(obj.get("created") or 0),
    )


def _payment_intent(obj) -> GatewayPaymentIntent:
    obj = _plain(obj)
    error = obj.get("last_payment_error") or {}
    return GatewayPaymentIntent(
        id=obj["id"],
        status=obj["status"],
        amount_minor=int(obj["amount"]),
        currency=str(obj["currency"]).upper(),
        customer_id=_id(obj.get("customer")),
        payment_method_id=_id(obj.get("payment_method")),
        latest_charge_id=_id(obj.get("latest_charge")),
        metadata=dict(obj.get("metadata") or {}),
        failure_code=error.get("decline_code") or error.get("code") or "",
        failure_message=error.get("message") or "",
    )


def _refund(obj) -> GatewayRefund:
    obj = _plain(obj)
    return GatewayRefund(
        id=obj["id"],
        status=obj.get("status") or "",
        amount_minor=int(obj["amount"]),
        charge_id=_id(obj.get("charge")),
        payment_intent_id=_id(obj.get("payment_intent")),
        metadata=dict(obj.get("metadata") or {}),
        failure_reason=obj.get("failure_reason") or "",
    )


class StripeGateway:
    online = True
    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str | None = None):
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=MAX_NETWORK_RETRIES,
        )

    @property
    def _v1(self):
        return self._client.v1

    # Customers ------------------------------------------------------------------------

    def customer_create(self, *, details: CustomerDetails, idempotency_key: str) -> str:
        with _mapped_errors("Creating the Stripe customer"):
            customer = self._v1.customers.create(
                params=_customer_params(details), options={"idempotency_key": idempotency_key}
            )
        return customer.id

    def customer_update(self, *, customer_id: str, details: CustomerDetails, idempotency_key: str) -> None:
        with _mapped_errors("Updating the Stripe customer"):
            self._v1.customers.update(
                customer_id, params=_customer_params(details), options={"idempotency_key": idempotency_key}
            )

    def customer_tax_id_sync(self, *, customer_id: str, country: str, vat_id: str) -> None:
        """Make the customer's tax IDs exactly our VAT ID (EU ones only), leaving a matching one."""
        wanted = vat_id.replace(" ", "").upper() if vat_id and country in EU_VAT_COUNTRIES else ""
        with _mapped_errors("Syncing the customer's VAT ID"):
            existing = [_plain(tax_id) for tax_id in self._v1.customers.tax_ids.list(customer_id).data]
            for tax_id in existing:
                if tax_id.get("value") != wanted:
                    self._v1.customers.tax_ids.delete(customer_id, tax_id["id"])
            if wanted and not any(tax_id.get("value") == wanted for tax_id in existing):
                self._v1.customers.tax_ids.create(customer_id, params={"type": "eu_vat", "value": wanted})

    def customer_get(self, *, customer_id: str) -> GatewayCustomer:
        with _mapped_errors("Reading the Stripe customer"):
            customer = _plain(self._v1.customers.retrieve(customer_id))
        settings = customer.get("invoice_settings") or {}
        return GatewayCustomer(
            id=customer["id"],
            default_payment_method_id=_id(settings.get("default_payment_method")),
            deleted=bool(customer.get("deleted")),
        )

    def customer_default_payment_method_set(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        with _mapped_errors("Setting the default payment method"):
            self._v1.customers.update(
                customer_id,
                params={"invoice_settings": {"default_payment_method": payment_method_id}},
                options={"idempotency_key": idempotency_key},
            )

    # Payment methods and the hosted pages ---------------------------------------------

    def payment_method_get(self, *, payment_method_id: str) -> GatewayPaymentMethod:
        with _mapped_errors("Reading the payment method"):
            return _payment_method(self._v1.payment_methods.retrieve(payment_method_id))

    def payment_methods_list(self, *, customer_id: str) -> list[GatewayPaymentMethod]:
        with _mapped_errors("Listing the payment methods"):
            methods = self._v1.payment_methods.list(params={"customer": customer_id, "type": "card"})
        return [_payment_method(obj) for obj in methods.data]

    def checkout_setup_session_create(
        self, *, customer_id: str, currency: str, success_url: str, cancel_url: str, idempotency_key: str
    ) -> GatewaySession:
        """Checkout in setup mode: the customer saves a card for later off-session charges."""
        with _mapped_errors("Opening Stripe Checkout"):
            session = self._v1.checkout.sessions.create(
                params={
                    "mode": "setup",
                    "customer": customer_id,
                    "currency": currency.lower(),
                    "payment_method_types": ["card"],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                },
                options={"idempotency_key": idempotency_key},
            )
        return GatewaySession(id=session.id, url=session.url)

    def billing_portal_session_create(self, *, customer_id: str, return_url: str) -> GatewaySession:
        with _mapped_errors("Opening the Stripe Billing Portal"):
            session = self._v1.billing_portal.sessions.create(
                params={"customer": customer_id, "return_url": return_url}
            )
        return GatewaySession(id=session.id, url=session.url)

    # Charging -------------------------------------------------------------------------

    def payment_intent_charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        metadata: dict,
        idempotency_key: str,
    ) -> GatewayPaymentIntent:
        """Create and confirm a PaymentIntent while the customer is away.

        A decline raises CardError at Stripe's API; it is returned here as the
        PaymentIntent's state (requires_payment_method, with the decline code), read back
        from the error's PaymentIntent or, when the error names only the charge, from the
        charge's PaymentIntent.
        """
        with _mapped_errors("Charging the card"):
            try:
                intent = self._v1.payment_intents.create(
                    params={
                        "amount": amount_minor,
                        "currency": currency.lower(),
                        "customer": customer_id,
                        "payment_method": payment_method_id,
                        "off_session": True,
                        "confirm": True,
                        "metadata": {key: str(value) for key, value in metadata.items()},
                    },
                    options={"idempotency_key": idempotency_key},
                )
            except stripe.CardError as exc:
                intent = self._intent_of_card_error(exc)
                if intent is None:
                    raise
        return _payment_intent(intent)

    def _intent_of_card_error(self, exc: stripe.CardError):
        if exc.error is None:
            return None
        error = _plain(exc.error)
        if error.get("payment_intent"):
            intent = error["payment_intent"]
            return self._v1.payment_intents.retrieve(intent if isinstance(intent, str) else intent["id"])
        if error.get("charge"):
            charge = _plain(self._v1.charges.retrieve(error["charge"]))
            if charge.get("payment_intent"):
                return self._v1.payment_intents.retrieve(_id(charge["payment_intent"]))
        return None

    def payment_intent_confirm_on_session(
        self, *, payment_intent_id: str, payment_method_id: str, return_url: str, idempotency_key: str
    ) -> tuple[GatewayPaymentIntent, str | None]:
        """Confirm with the customer present; returns the PaymentIntent and, when the bank wants
        to see them (3-D Secure), the URL of its page, which sends them back to `return_url`.

        A server-side confirmation with a return_url: no Stripe.js on our pages.
        """
        with _mapped_errors("Confirming the payment"):
            try:
                intent = self._v1.payment_intents.confirm(
                    payment_intent_id,
                    params={"payment_method": payment_method_id, "return_url": return_url},
                    options={"idempotency_key": idempotency_key},
                )
            except stripe.CardError as exc:
                intent = self._intent_of_card_error(exc)
                if intent is None:
                    raise
        plain = _plain(intent)
        redirect = (plain.get("next_action") or {}).get("redirect_to_url") or {}
        return _payment_intent(plain), redirect.get("url")

    def payment_intent_get(self, *, payment_intent_id: str) -> GatewayPaymentIntent:
        with _mapped_errors("Reading the payment"):
            return _payment_intent(self._v1.payment_intents.retrieve(payment_intent_id))

    def payment_intent_cancel(self, *, payment_intent_id: str, idempotency_key: str) -> GatewayPaymentIntent:
        with _mapped_errors("Canceling the payment"):
            intent = self._v1.payment_intents.cancel(
                payment_intent_id, options={"idempotency_key": idempotency_key}
            )
        return _payment_intent(intent)

    # Refunds and charges --------------------------------------------------------------

    def refund_create(
        self, *, payment_intent_id: str, amount_minor: int, metadata: dict, idempotency_key: str
    ) -> GatewayRefund:
        with _mapped_errors("Refunding to the card"):
            refund = self._v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount_minor,
                    "metadata": {key: str(value) for key, value in metadata.items()},
                },
                options={"idempotency_key": idempotency_key},
            )
        return _refund(refund)

    def charge_get(self, *, charge_id: str) -> GatewayCharge:
        with _mapped_errors("Reading the charge"):
            charge = _plain(self._v1.charges.retrieve(charge_id))
            refunds = charge.get("refunds")
            if refunds is not None:
                refund_objects = refunds.get("data") or []
            else:  # not included by default in recent API versions
                refund_objects = self._v1.refunds.list(params={"charge": charge_id}).data
        return GatewayCharge(
            id=charge["id"],
            payment_intent_id=_id(charge.get("payment_intent")),
            customer_id=_id(charge.get("customer")),
            amount_minor=int(charge["amount"]),
            amount_refunded_minor=int(charge.get("amount_refunded") or 0),
            currency=str(charge["currency"]).upper(),
            refunds=tuple(_refund(obj) for obj in refund_objects),
        )


@lru_cache(maxsize=4)
def stripe_gateway(*, api_key: str, api_base: str | None) -> StripeGateway:
    return StripeGateway(api_key=api_key, api_base=api_base)


# Webhooks -----------------------------------------------------------------------------


def _signature_timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise ValueError("no timestamp")


def webhook_event_verify(
    *, payload: bytes, signature_header: str, secrets: list[str], now: dt.datetime, tolerance_seconds: int
) -> dict:
    """The event in a webhook request, if Stripe signed it within `tolerance_seconds` of `now`.

    Stripe's own check (stripe.WebhookSignature) verifies the HMAC-SHA256 of
    "<timestamp>.<payload>"; it refuses a timestamp older than its tolerance but accepts
    any timestamp from the future, so the age is checked here, in both directions,
    against our clock. Any of `secrets` may have signed (rolling the secret over).
    """
    try:
        text = payload.decode("utf-8")
        timestamp = _signature_timestamp(signature_header or "")
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookSignatureInvalid("Malformed payload or Stripe-Signature header.") from exc
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise WebhookSignatureInvalid(
            f"Signature timestamp {timestamp} is more than {tolerance_seconds} s from now."
        )
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        break
    else:
        raise WebhookSignatureInvalid("No signature matches the payload.")
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise WebhookSignatureInvalid("The payload is not JSON.") from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookSignatureInvalid("The payload is not an event.")
    return event
