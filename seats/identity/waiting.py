"""The waiting list: people refused for want of a seat, and how owners let them in.

A refusal by `members_add` (seat_unavailable in manual seat mode, max_seats_exceeded at
the plan's cap) changes nothing; then `waiting_record` writes the person down (one row
per organization and e-mail) in its own transaction and e-mails the owners, at most
once per organization-local day (`SeatWaitingNotice`, unique per organization and day).
`waiting_admit` buys the seats the waiting people need, with the preview's state token,
and makes them members in the same transaction; then it tells them.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.state_token import PreviewStale
from core import clock
from core.site import absolute_url
from organizations import formatting as fmt
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.mail import mail_after_commit
from organizations.models import Membership, Organization, Role

from .. import services as seat_services
from ..models import SeatWaiter, SeatWaitingNotice, SsoConnection
from .alerts import seat_alert_check
from .people import normalize_email, person_get_or_create
from .scim_records import scim_user_link
from .selectors import owner_emails, waiting_list

SEAT_REFUSALS = frozenset({"seat_unavailable", "max_seats_exceeded"})


def waiting_url(*, organization: Organization) -> str:
    return absolute_url(reverse("identity_waiting", kwargs={"slug": organization.slug}))


def waiting_record(
    *,
    organization: Organization,
    email: str,
    name: str,
    source: str,
    refusal: RuleViolation,
    at: dt.datetime,
    scim_attributes: dict | None = None,
) -> SeatWaiter:
    """Write the person down as waiting (or count one more attempt) and tell the owners
    if today's e-mail has not gone yet. Runs in its own transaction: call it after the
    refused join was rolled back."""
    email = normalize_email(email)
    with transaction.atomic():
        try:
            with transaction.atomic():
                waiter = SeatWaiter.objects.create(
                    organization=organization,
                    email=email,
                    name=name[:200],
                    source=source,
                    refusal_code=refusal.code,
                    scim_attributes=scim_attributes or {},
                    first_requested_at=at,
                    last_requested_at=at,
                )
            audit_record(
                organization=organization,
                actor=None,
                action="seats.waiting",
                at=at,
                target=email,
                details={"source": source, "code": refusal.code},
            )
        except IntegrityError:
            updates = {"attempts": F("attempts") + 1, "last_requested_at": at, "refusal_code": refusal.code}
            if scim_attributes:
                updates["scim_attributes"] = scim_attributes
            SeatWaiter.objects.filter(organization=organization, email=email).update(**updates)
            waiter = SeatWaiter.objects.get(organization=organization, email=email)
        waiting_notice_send(organization=organization, at=at)
    return waiter


@transaction.atomic
def waiting_notice_send(*, organization: Organization, at: dt.datetime) -> bool:
    """E-mail owners who is waiting, unless they were e-mailed today already. True if sent.

    The sent-marker's unique (organization, day) makes this once a day even when many
    requests are refused at the same moment. Also run daily by `waiting_notices_send`,
    so people who started waiting after the day's e-mail are listed the next day.
    """
    waiters = list(waiting_list(organization=organization))
    if not waiters:
        return False
    _at, on = clock.organization_now_and_today(organization, at=at)
    _notice, created = SeatWaitingNotice.objects.get_or_create(
        organization=organization, on=on, defaults={"waiting": len(waiters), "sent_at": at}
    )
    if not created:
        return False
    recipients = owner_emails(organization=organization)
    if recipients:
        context = {
            "organization_name": organization.name,
            "waiters": waiters,
            "url": waiting_url(organization=organization),
        }
        count = len(waiters)
        with translation.override(fmt.document_language(organization.language)):
            subject = ngettext(
                "%(name)s: %(count)s person is waiting for a seat",
                "%(name)s: %(count)s people are waiting for a seat",
                count,
            ) % {"name": organization.name, "count": count}
            body = render_to_string("emails/identity/waiting_notice.txt", context)
        mail_after_commit(subject=subject, body=body, recipients=recipients)
    return True


@transaction.atomic
def waiting_dismiss(*, organization: Organization, waiter_id: int, at: dt.datetime, acting_user=None) -> None:
    """Take someone off the waiting list without admitting them."""
    waiter = SeatWaiter.objects.filter(organization=organization, pk=waiter_id).first()
    if waiter is None:
        raise RuleViolation(_("That person is no longer waiting."), code="not_waiting")
    waiter.delete()
    audit_record(
        organization=organization,
        actor=acting_user,
        action="seats.waiting_dismissed",
        at=at,
        target=waiter.email,
    )


@transaction.atomic
def waiting_admit(
    *,
    organization: Organization,
    purchase_count: int,
    on: dt.date,
    at: dt.datetime,
    acting_user=None,
    expected_token: str | None = None,
    expected_waiting: int | None = None,
) -> list[Membership]:
    """Buy `purchase_count` seats (0: none needed) and make everyone waiting a member.

    One transaction: if buying is refused (the preview went stale, the plan's cap) or the
    seats do not suffice after all, nothing is bought and nobody is admitted. The
    purchase carries the preview's state token; the admission after it does not, as the
    purchase itself changed the state. `expected_waiting` (how many people the owner saw)
    refuses the confirmation as stale when someone started waiting meanwhile.
    """
    waiters = list(waiting_list(organization=organization).select_for_update())
    if not waiters:
        raise RuleViolation(_("Nobody is waiting for a seat."), code="nobody_waiting")
    if expected_waiting is not None and expected_waiting != len(waiters):
        raise PreviewStale(
            _("The waiting list changed since you reviewed it. Review the new price and confirm again.")
        )
    if purchase_count:
        seat_services.seat_purchase(
            organization=organization,
            count=purchase_count,
            on=on,
            at=at,
            acting_user=acting_user,
            expected_token=expected_token,
        )
    people = []
    for waiter in waiters:
        first, _space, last = waiter.name.partition(" ")
        people.append(person_get_or_create(email=waiter.email, first_name=first, last_name=last))
    already = set(
        Membership.objects.filter(
            organization=organization, removed_at__isnull=True, user__in=people
        ).values_list("user_id", flat=True)
    )
    joining = [person for person in people if person.pk not in already]
    memberships = seat_services.members_add(
        organization=organization,
        users=joining,
        role=Role.MEMBER,
        on=on,
        at=at,
        acting_user=acting_user,
        expected_token=None if purchase_count else expected_token,
    )
    for waiter, person in zip(waiters, people, strict=True):
        if waiter.source == SeatWaiter.Source.SCIM and waiter.scim_attributes:
            scim_user_link(organization=organization, user=person, attributes=waiter.scim_attributes, at=at)
    SeatWaiter.objects.filter(pk__in=[w.pk for w in waiters]).delete()
    audit_record(
        organization=organization,
        actor=acting_user,
        action="seats.waiting_admitted",
        at=at,
        target=", ".join(w.email for w in waiters)[:200],
        details={"count": len(waiters), "seats_bought": purchase_count},
    )
    for waiter in waiters:
        _tell_admitted(organization=organization, email=waiter.email)
    seat_alert_check(organization=organization, at=at)
    return memberships


def _tell_admitted(*, organization: Organization, email: str) -> None:
    sso = SsoConnection.objects.filter(organization=organization).exists()
    start = (
        reverse("identity_sso_start", kwargs={"organization": organization.slug}) if sso else reverse("login")
    )
    context = {"organization_name": organization.name, "url": absolute_url(start), "sso": sso}
    with translation.override(fmt.document_language(organization.language)):
        subject = _("You are now a member of %(name)s") % {"name": organization.name}
        body = render_to_string("emails/identity/admitted.txt", context)
    mail_after_commit(subject=subject, body=body, recipients=[email])
