"""Endpoints (create, change, roll the secret, disable), events (recorded once per committed
change, with a delivery per endpoint that picked the type) and deliveries (one attempt at a
time, retried with a backoff for three days, replayed from the log).

A delivery goes through the outbox: its first attempt is queued in the transaction of the
change that caused the event, so a committed change always has its deliveries, even while
the broker is down. Every later attempt is queued by `deliveries_due_enqueue` (a beat task
every minute) under the key of the attempt it is, so queuing one twice sends it once; the
task locks the delivery and checks the attempt's number before sending.
"""

import datetime as dt
import ipaddress
import json
import logging
import secrets
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from core import outbound
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.models import Organization
from outbox.relay import Work, outbox_enqueue_all

from .models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .signature import SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
DELIVER_TASK = "webhooks.deliver"
# Retried until this long after the delivery was made (a replay starts its own three days).
RETRY_FOR = dt.timedelta(days=3)
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_WAIT = dt.timedelta(hours=12)
SECRET_GRACE = dt.timedelta(hours=24)  # the default: how long a rolled secret still signs
MAX_SECRET_GRACE = dt.timedelta(days=7)
MAX_ENDPOINTS = 16  # per organization
RESPONSE_KEPT_CHARS = 1000


class EndpointRefused(RuleViolation):
    code = "invalid_webhook_endpoint"


class DeliveryRefused(RuleViolation):
    code = "webhook_delivery_refused"


# Endpoints ------------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def endpoint_url_check(url: str) -> str:
    """`url` if it is an address we may send to: https (plain http only to loopback, and only
    where the test settings allow it), no credentials, no literal internal address. A host
    name is judged again, by what it resolves to, at each delivery (core/outbound.py)."""
    url = (url or "").strip()
    try:
        origin = outbound.origin_of(url)
    except outbound.OutboundRefused:
        raise EndpointRefused(_("Enter an https:// URL."), field="url") from None
    try:
        literal = ipaddress.ip_address(origin.host)
    except ValueError:
        literal = None
    if origin.scheme != "https" and not (
        outbound.loopback_allowed()
        and (literal is not None and literal.is_loopback or origin.host == "localhost")
    ):
        raise EndpointRefused(_("Enter an https:// URL."), field="url")
    if literal is not None and not outbound.address_allowed(literal):
        raise EndpointRefused(_("That address is on a private network; enter a public one."), field="url")
    if len(url) > 2000:
        raise EndpointRefused(_("The URL is too long (2,000 characters at most)."), field="url")
    return url


def _events_check(events) -> list[str]:
    chosen = sorted(set(events or []))
    unknown = [e for e in chosen if e not in EventType.values]
    if unknown:
        raise EndpointRefused(_("Unknown event type: %(type)s.") % {"type": unknown[0]}, field="events")
    if not chosen:
        raise EndpointRefused(_("Choose at least one event."), field="events")
    return chosen


def _webhooks_active_sync(organization: Organization) -> None:
    """Organization.webhooks_active := has an active endpoint, under the organization's row lock
    (two endpoint changes at once agree), on the row and on `organization`."""
    Organization.objects.select_for_update().filter(pk=organization.pk).values_list("pk").get()
    active = WebhookEndpoint.objects.filter(organization=organization, active=True).exists()
    Organization.objects.filter(pk=organization.pk).update(webhooks_active=active)
    organization.webhooks_active = active


@transaction.atomic
def endpoint_create(
    *, organization: Organization, url: str, events, description: str = "", at: dt.datetime, acting_user=None
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret (the caller shows it once)."""
    url = endpoint_url_check(url)
    chosen = _events_check(events)
    if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS:
        raise EndpointRefused(
            _("An organization has at most %(count)s webhook endpoints.") % {"count": MAX_ENDPOINTS},
            code="webhook_endpoint_limit",
        )
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        description=(description or "").strip()[:200],
        events=chosen,
        secret=new_secret(),
        created_at=at,
    )
    _webhooks_active_sync(organization)
    audit_record(
        organization=organization,
        actor=acting_user,
        action="webhook_endpoint.create",
        at=at,
        target=url,
        details={"endpoint": endpoint.pk, "events": chosen},
    )
    return endpoint, endpoint.secret


def _endpoint_locked(*, organization: Organization, endpoint_id: int) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.select_for_update().filter(organization=organization, pk=endpoint_id).first()
    )
    if endpoint is None:
        raise EndpointRefused(_("No such webhook endpoint."), code="not_found")
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    organization: Organization,
    endpoint_id: int,
    at: dt.datetime,
    acting_user=None,
    url: str | None = None,
    events=None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None: unchanged). Disabling stops its pending deliveries."""
    endpoint = _endpoint_locked(organization=organization, endpoint_id=endpoint_id)
    changed = {}
    if url is not None:
        endpoint.url = changed["url"] = endpoint_url_check(url)
    if events is not None:
        endpoint.events = changed["events"] = _events_check(events)
    if description is not None:
        endpoint.description = changed["description"] = description.strip()[:200]
    if active is not None and active != endpoint.active:
        endpoint.active = changed["active"] = active
        endpoint.disabled_at = None if active else at
        if not active:
            WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
                status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="endpoint disabled"
            )
    if changed:
        endpoint.save()
        if "active" in changed:
            _webhooks_active_sync(organization)
        audit_record(
            organization=organization,
            actor=acting_user,
            action="webhook_endpoint.update",
            at=at,
            target=endpoint.url,
            details={"endpoint": endpoint.pk, **changed},
        )
    return endpoint


@transaction.atomic
def endpoint_secret_roll(
    *,
    organization: Organization,
    endpoint_id: int,
    at: dt.datetime,
    grace: dt.timedelta = SECRET_GRACE,
    acting_user=None,
) -> tuple[WebhookEndpoint, str]:
    """A new secret, returned to be shown once. The old one keeps signing beside it for
    `grace` (0: it stops at once), so the receiver can switch without losing a delivery."""
    if grace < dt.timedelta(0) or grace > MAX_SECRET_GRACE:
        raise EndpointRefused(
            _("The old secret may keep signing for up to 7 days."), field="grace_hours", code="invalid_grace"
        )
    endpoint = _endpoint_locked(organization=organization, endpoint_id=endpoint_id)
    if grace:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = endpoint.secret, at + grace
    else:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = "", None
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    audit_record(
        organization=organization,
        actor=acting_user,
        action="webhook_endpoint.secret_roll",
        at=at,
        target=endpoint.url,
        details={
            "endpoint": endpoint.pk,
            "old_secret_until": at.isoformat() if not grace else (at + grace).isoformat(),
        },
    )
    return endpoint, endpoint.secret


def signing_secrets(endpoint: WebhookEndpoint, *, at: dt.datetime) -> list[str]:
    """The secrets that sign a delivery sent at `at`: the current one, and the rolled one in its grace."""
    found = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and at < endpoint.previous_secret_expires_at
    ):
        found.append(endpoint.previous_secret)
    return found


# Events ---------------------------------------------------------------------------------------


def _deliver_work(delivery: WebhookDelivery, attempt: int) -> Work:
    return Work(
        task_name=DELIVER_TASK, key=f"{DELIVER_TASK}:{delivery.pk}:{attempt}", args=(delivery.pk, attempt)
    )


def event_record(
    *, organization: Organization, type: str, data: dict, at: dt.datetime, key: str | None = None
) -> WebhookEvent | None:
    """Record `type` happening to the organization, with a delivery to each of its active
    endpoints that picked it, queued through the outbox in the caller's transaction. The same
    `key` twice (one change announced again) is one event. None when no endpoint wants it
    (nothing is stored) or the event exists already. An organization without an active endpoint
    (`webhooks_active`, on the row the caller holds) costs no query."""
    if not organization.webhooks_active:
        return None
    organization_id = organization.pk
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(organization_id=organization_id, active=True)
        if type in e.events
    ]
    if not endpoints:
        return None
    key = key or uuid.uuid4().hex
    if WebhookEvent.objects.filter(organization_id=organization_id, type=type, key=key).exists():
        return None
    event_id = uuid.uuid4()
    event = WebhookEvent.objects.create(
        id=event_id,
        organization_id=organization_id,
        type=type,
        key=key,
        created_at=at,
        payload={
            "id": f"evt_{event_id.hex}",
            "object": "event",
            "type": type,
            "created": int(at.timestamp()),
            "organization": {"id": organization.pk, "slug": organization.slug},
            "data": {"object": data},
        },
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=organization_id,
                endpoint=endpoint,
                event=event,
                created_at=at,
                next_attempt_at=at,
            )
            for endpoint in endpoints
        ]
    )
    outbox_enqueue_all([_deliver_work(delivery, 1) for delivery in deliveries])
    return event


# Deliveries -----------------------------------------------------------------------------------


def retry_wait(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 1 min, 2, 4, 8 ... at most 12 hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def retry_schedule(*, started: dt.datetime) -> list[dt.datetime]:
    """When each attempt of a delivery that always fails is made (the first at `started`)."""
    times, at, attempts = [started], started, 1
    while (nxt := at + retry_wait(attempts)) <= started + RETRY_FOR:
        times.append(nxt)
        at, attempts = nxt, attempts + 1
    return times


def body_of(event: WebhookEvent) -> bytes:
    """The exact bytes sent (and signed): the payload as compact JSON."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_headers(delivery: WebhookDelivery, *, body: bytes, at: dt.datetime) -> dict[str, str]:
    event = delivery.event
    return {
        "Content-Type": "application/json",
        "User-Agent": "Seatbill-Webhooks/1.0",
        SIGNATURE_HEADER: signature_header(
            body, signing_secrets(delivery.endpoint, at=at), int(at.timestamp())
        ),
        "Seatbill-Event-Id": event.public_id,
        "Seatbill-Event-Type": event.type,
        "Seatbill-Delivery-Id": str(delivery.pk),
    }


def delivery_attempt(*, delivery_id: int, attempt: int, at: dt.datetime) -> WebhookDelivery | None:
    """Make attempt number `attempt` of a delivery, once: lock it, check it is still pending
    and that `attempt` is the next one (a message sent twice does nothing the second time),
    POST the signed body through core/outbound.py, and record the answer. A 2xx succeeds;
    anything else (a refused address included) waits `retry_wait` and is tried again, until
    RETRY_FOR after the delivery was made."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        if delivery.attempts != attempt - 1:
            return delivery
        endpoint = delivery.endpoint
        delivery.attempts, delivery.last_attempt_at = attempt, at
        if not endpoint.active:
            delivery.status, delivery.next_attempt_at, delivery.last_error = (
                WebhookDelivery.Status.FAILED,
                None,
                "endpoint disabled",
            )
            delivery.save()
            return delivery
        body = body_of(delivery.event)
        try:
            response = outbound.fetch(
                "POST",
                endpoint.url,
                origin=endpoint.url,
                headers=delivery_headers(delivery, body=body, at=at),
                body=body,
            )
        except outbound.OutboundRefused as error:
            # What exactly went wrong goes to the server log; the log people see says what to check.
            log.warning("Webhook delivery %s refused: %s", delivery.pk, error)
            status, text, problem = None, "", "refused: the address is not a public https address"
        except outbound.OutboundError as error:
            log.warning("Webhook delivery %s failed: %s", delivery.pk, error)
            status, text, problem = None, "", "failed: no answer (connection, TLS or timeout)"
        else:
            status, text = response.status, response.text[:RESPONSE_KEPT_CHARS]
            problem = "" if 200 <= status < 300 else f"answered {status}"
        delivery.response_status, delivery.response_body, delivery.last_error = status, text, problem[:2000]
        if not problem:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.SUCCEEDED,
                at,
                None,
            )
        else:
            retry_at = at + retry_wait(attempt)
            if retry_at > delivery.created_at + RETRY_FOR:
                delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
            else:
                delivery.next_attempt_at = retry_at
        delivery.save()
        return delivery


def deliveries_due_enqueue(*, at: dt.datetime, limit: int = 1000) -> int:
    """Queue (through the outbox) the next attempt of every pending delivery due by `at`;
    an attempt already queued is not queued again. How many were looked at."""
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=at)
        .order_by("next_attempt_at")
        .only("pk", "attempts")[:limit]
    )
    if due:
        with transaction.atomic():
            outbox_enqueue_all([_deliver_work(delivery, delivery.attempts + 1) for delivery in due])
    return len(due)


@transaction.atomic
def delivery_replay(
    *, organization: Organization, delivery_id: int, at: dt.datetime, acting_user=None
) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery (same event id, so a
    receiver that already has it can tell), queued through the outbox."""
    original = (
        WebhookDelivery.objects.select_related("endpoint", "event")
        .filter(organization=organization, pk=delivery_id)
        .first()
    )
    if original is None:
        raise DeliveryRefused(_("No such delivery."), code="not_found")
    if not original.endpoint.active:
        raise DeliveryRefused(_("The endpoint is disabled; enable it to replay its deliveries."))
    delivery = WebhookDelivery.objects.create(
        organization=organization,
        endpoint=original.endpoint,
        event=original.event,
        replay_of=original,
        created_at=at,
        next_attempt_at=at,
    )
    outbox_enqueue_all([_deliver_work(delivery, 1)])
    audit_record(
        organization=organization,
        actor=acting_user,
        action="webhook_delivery.replay",
        at=at,
        target=original.event.public_id,
        details={"delivery": original.pk, "replay": delivery.pk},
    )
    return delivery
