"""What buying seats or adding members would invoice, before anyone confirms (seed 002)."""

import datetime as dt
import uuid

from django.contrib.auth import get_user_model

from billing.preview import Preview, preview_run
from organizations.models import Organization, Role

from . import services


def seat_purchase_preview(
    *, organization: Organization, count: int, on: dt.date, at: dt.datetime, interval: str = ""
) -> Preview:
    return preview_run(
        organization=organization,
        action="seat_purchase",
        on=on,
        at=at,
        run=lambda: services.seat_purchase(
            organization=organization, count=count, on=on, at=at, interval=interval
        ),
    )


def members_add_preview(
    *,
    organization: Organization,
    count: int,
    on: dt.date,
    at: dt.datetime,
    seat_interval: str = "",
    role: str = Role.MEMBER,
) -> Preview:
    """What adding `count` people would cost now; the people are stand-ins, rolled back with the rest."""

    def run():
        User = get_user_model()
        stand_ins = []
        for _ in range(count):
            name = f"preview-{uuid.uuid4().hex}@preview.invalid"
            stand_ins.append(User.objects.create(username=name, email=name))
        services.members_add(
            organization=organization, users=stand_ins, role=role, on=on, at=at, seat_interval=seat_interval
        )

    return preview_run(organization=organization, action="members_add", on=on, at=at, run=run)
