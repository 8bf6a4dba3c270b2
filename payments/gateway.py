"""What the payment services see of a payment provider: plain values, our errors, one factory.

`payment_gateway()` returns the Stripe gateway (payments.stripe_gateway) when
STRIPE_SECRET_KEY is set, else `OfflineGateway`: no cards; invoices are paid by bank
transfer (the seller's bank details are on every invoice) and staff mark them paid in the
admin. Nothing here imports `stripe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from organizations.errors import RuleViolation

# PaymentIntent statuses, as Stripe names them.
PI_SUCCEEDED = "succeeded"
PI_PROCESSING = "processing"
PI_REQUIRES_ACTION = "requires_action"
PI_REQUIRES_PAYMENT_METHOD = "requires_payment_method"
PI_REQUIRES_CONFIRMATION = "requires_confirmation"
PI_REQUIRES_CAPTURE = "requires_capture"
PI_CANCELED = "canceled"


class PaymentGatewayError(Exception):
    """The provider did not do what we asked. `code` is the provider's error code, if any."""

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class GatewayUnavailable(PaymentGatewayError):
    """Network trouble, rate limiting, a provider-side error: the same request may be retried
    (with the same idempotency key, so a request that did reach the provider counts once)."""


class GatewayRequestRefused(PaymentGatewayError):
    """The provider refused the request itself (invalid, not allowed): retrying will not help."""


class GatewayNotFound(GatewayRequestRefused):
    """The object named does not exist at the provider."""


class WebhookSignatureInvalid(Exception):
    """A webhook whose signature or timestamp does not check out: answer 400, change nothing."""


class PaymentsOffline(RuleViolation):
    code = "payments_offline"


@dataclass(frozen=True)
class CustomerDetails:
    """What we tell Stripe about an organization: the billing details of its invoices."""

    organization_id: int
    name: str
    email: str
    address: str
    country: str
    vat_id: str
    language: str


@dataclass(frozen=True)
class GatewayCustomer:
    id: str
    default_payment_method_id: str | None
    deleted: bool = False


@dataclass(frozen=True)
class GatewayPaymentMethod:
    id: str
    customer_id: str | None
    kind: str
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    created: int = 0


@dataclass(frozen=True)
class GatewayPaymentIntent:
    id: str
    status: str
    amount_minor: int
    currency: str
    customer_id: str | None
    payment_method_id: str | None
    latest_charge_id: str | None
    metadata: dict = field(default_factory=dict)
    failure_code: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    status: str
    amount_minor: int
    charge_id: str | None
    payment_intent_id: str | None
    metadata: dict = field(default_factory=dict)
    failure_reason: str = ""


@dataclass(frozen=True)
class GatewayCharge:
    id: str
    payment_intent_id: str | None
    customer_id: str | None
    amount_minor: int
    amount_refunded_minor: int
    currency: str
    refunds: tuple[GatewayRefund, ...] = ()


@dataclass(frozen=True)
class GatewaySession:
    """A Checkout or Billing Portal session: where to send the customer."""

    id: str
    url: str


class OfflineGateway:
    """No payment provider: invoices are paid by bank transfer and marked paid by staff."""

    online = False
    name = "offline"

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise PaymentsOffline(
            "Card payments are not enabled here: invoices are paid by bank transfer "
            "to the account shown on each invoice."
        )


def payment_gateway():
    """The Stripe gateway when STRIPE_SECRET_KEY is set, else the offline one (read each call,
    so settings changed by a test or a deploy apply at once)."""
    if not settings.STRIPE_SECRET_KEY:
        return OfflineGateway()
    from payments.stripe_gateway import stripe_gateway

    return stripe_gateway(api_key=settings.STRIPE_SECRET_KEY, api_base=settings.STRIPE_API_BASE or None)


def payments_online() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)
