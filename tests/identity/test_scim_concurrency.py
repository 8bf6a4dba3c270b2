"""Twenty SCIM creates at once for one free seat: exactly one person becomes a member.

Real concurrency: the live server answers each request in its own thread with its own
PostgreSQL connection, and the twenty requests are released together by a barrier.
`members_add` takes the subscription's row lock, so the seat count each request sees is
the one the previous request left; the nineteen refused people wait, and the owners get
one e-mail.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core import mail

from billing.selectors import active_members, seats_total
from seats.models import ScimUser, SeatWaiter, SeatWaitingNotice

from .support import organization_with_seats, scim_token, verify_domain

PARALLEL = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_creates_at_one_free_seat_make_exactly_one_member(
    live_server, dns_zone, frozen_clock
):
    organization, subscription, owner = organization_with_seats(
        seats=2, included_seats=0, seat_mode="manual", max_seats=None
    )
    verify_domain(organization, "example.com", dns_zone)
    assert seats_total(subscription=subscription) - active_members(organization=organization).count() == 1
    secret = scim_token(organization)
    barrier = threading.Barrier(PARALLEL)

    def create(n: int):
        email = f"person{n}@example.com"
        payload = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "emails": [{"value": email, "primary": True}],
        }
        barrier.wait(timeout=30)
        return requests.post(
            f"{live_server.url}/scim/v2/Users",
            json=payload,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        responses = list(pool.map(create, range(PARALLEL)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [403] * (PARALLEL - 1), [
        r.text for r in responses if r.status_code not in (201, 403)
    ]
    assert {r.json()["scimType"] for r in responses if r.status_code == 403} == {"seat_unavailable"}
    assert active_members(organization=organization).count() == 2
    assert seats_total(subscription=subscription) == 2
    assert ScimUser.objects.filter(organization=organization).count() == 1
    assert SeatWaiter.objects.filter(organization=organization).count() == PARALLEL - 1
    assert SeatWaitingNotice.objects.filter(organization=organization).count() == 1
    assert len([m for m in mail.outbox if "waiting for a seat" in m.subject]) == 1
