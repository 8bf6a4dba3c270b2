"""Daily work of the waiting list and seat alerts: ids in, fetch, call the service.

Not yet on the beat schedule (config/settings is not this package's): add
`seats.identity.tasks.waiting_notices_send` (daily) and
`seats.identity.tasks.seat_alerts_check` (hourly) to CELERY_BEAT_SCHEDULE, with
"seats.identity.tasks" in CELERY_IMPORTS so workers register them.
"""

from celery import shared_task

from core import clock
from organizations.models import Organization

from ..models import SeatAlert, SeatWaiter
from .alerts import seat_alert_check
from .waiting import waiting_notice_send


@shared_task(name="seats.identity.tasks.waiting_notices_send", acks_late=True, ignore_result=True)
def waiting_notices_send() -> int:
    """E-mail the owners of every organization with people waiting (once a day each)."""
    at = clock.now()
    ids = SeatWaiter.objects.values_list("organization_id", flat=True).distinct().order_by("organization_id")
    return sum(
        waiting_notice_send(organization=organization, at=at)
        for organization in Organization.objects.filter(pk__in=list(ids)).order_by("pk")
    )


@shared_task(name="seats.identity.tasks.seat_alerts_check", acks_late=True, ignore_result=True)
def seat_alerts_check() -> int:
    """Catch crossings caused by joins through other paths (invitations, the members page)."""
    at = clock.now()
    ids = SeatAlert.objects.values_list("organization_id", flat=True).order_by("organization_id")
    return sum(
        seat_alert_check(organization=organization, at=at)
        for organization in Organization.objects.filter(pk__in=list(ids)).order_by("pk")
    )
