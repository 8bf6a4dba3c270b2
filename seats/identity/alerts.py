"""Seat alerts: owners set "tell me at N free seats left" and get one e-mail per crossing."""

import datetime as dt

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import ngettext

from billing.selectors import seat_summary
from organizations import formatting as fmt
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.mail import mail_after_commit
from organizations.models import Organization

from ..models import SeatAlert
from .selectors import owner_emails

MAX_THRESHOLD = 10_000


@transaction.atomic
def seat_alert_set(
    *, organization: Organization, free_seats_at: int | None, at: dt.datetime, acting_user=None
) -> SeatAlert | None:
    """Set (or with None, remove) the alert. The line starts on the side the organization is
    on now, so setting it never e-mails by itself; the next crossing does."""
    if free_seats_at is None:
        SeatAlert.objects.filter(organization=organization).delete()
        audit_record(organization=organization, actor=acting_user, action="seats.alert_removed", at=at)
        return None
    if free_seats_at < 0 or free_seats_at > MAX_THRESHOLD:
        raise RuleViolation(
            f"Choose between 0 and {MAX_THRESHOLD} free seats.",
            code="invalid_threshold",
            field="free_seats_at",
        )
    summary = seat_summary(organization=organization)
    below = summary is not None and summary.free <= free_seats_at
    alert, _created = SeatAlert.objects.update_or_create(
        organization=organization,
        defaults={"free_seats_at": free_seats_at, "below": below, "set_by": acting_user, "set_at": at},
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="seats.alert_set",
        at=at,
        details={"free_seats_at": free_seats_at},
    )
    return alert


@transaction.atomic
def seat_alert_check(*, organization: Organization, at: dt.datetime) -> bool:
    """E-mail owners if free seats just fell to the alert's line or below; True if sent.

    Called after every join through SSO, SCIM or the waiting list, and by the
    `seat_alerts_check` task for joins through other paths.
    """
    alert = SeatAlert.objects.select_for_update().filter(organization=organization).first()
    if alert is None:
        return False
    summary = seat_summary(organization=organization)
    if summary is None:
        return False
    below = summary.free <= alert.free_seats_at
    if below == alert.below:
        return False
    alert.below = below
    fields = ["below"]
    if below:
        alert.notified_at = at
        fields.append("notified_at")
    alert.save(update_fields=fields)
    if not below:
        return False
    recipients = owner_emails(organization=organization)
    if recipients:
        context = {
            "organization_name": organization.name,
            "summary": summary,
            "threshold": alert.free_seats_at,
        }
        with translation.override(fmt.document_language(organization.language)):
            subject = ngettext(
                "%(name)s: %(count)s free seat left", "%(name)s: %(count)s free seats left", summary.free
            ) % {"name": organization.name, "count": summary.free}
            body = render_to_string("emails/identity/seat_alert.txt", context)
        mail_after_commit(subject=subject, body=body, recipients=recipients)
    audit_record(
        organization=organization,
        actor=None,
        action="seats.alert_sent",
        at=at,
        details={"free": summary.free, "free_seats_at": alert.free_seats_at},
    )
    return True
