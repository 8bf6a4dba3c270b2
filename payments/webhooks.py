"""POST /stripe/webhook/: verify Stripe's signature, store the event once, answer at once.

The signature is checked with Stripe's own algorithm (payments.stripe_gateway) and a
tolerance of STRIPE_WEBHOOK_TOLERANCE_SECONDS in both directions; anything that does not
check out gets 400 and changes nothing, as does a signed payload of a shape Stripe never
sends (payments.events.webhook_event_check). A verified event is stored by its id and handled
by a task after the commit (payments.events), so Stripe gets its 200 quickly and
a repeated delivery is recognised.
"""

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core import clock
from payments.events import WebhookEventMalformed, webhook_event_receive
from payments.gateway import WebhookSignatureInvalid
from payments.stripe_gateway import webhook_event_verify


def webhook_secrets() -> list[str]:
    return [secret.strip() for secret in (settings.STRIPE_WEBHOOK_SECRET or "").split(",") if secret.strip()]


@csrf_exempt
@require_POST
def stripe_webhook(request):
    secrets = webhook_secrets()
    if not secrets:
        return HttpResponseBadRequest("Webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
    at = clock.now()
    try:
        event = webhook_event_verify(
            payload=request.body,
            signature_header=request.headers.get("Stripe-Signature", ""),
            secrets=secrets,
            now=at,
            tolerance_seconds=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except WebhookSignatureInvalid as exc:
        return HttpResponseBadRequest(str(exc))
    try:
        _stored, created = webhook_event_receive(event=event, at=at)
    except WebhookEventMalformed as exc:
        return HttpResponseBadRequest(str(exc))
    return HttpResponse("stored" if created else "already stored", content_type="text/plain")
