"""A partner's person makes an API key while a handover of the client is under way.

Real concurrency on PostgreSQL, two connections: the handover holds the client's link locked
until it commits; the key's creation locks the same row (organizations.partners.
credential_provenance), so it waits, then sees the agreement the handover left (external:
the partner no longer acts as owner) and is refused. Without the lock the key was made after
the handover had revoked the partner's credentials, and survived it.
"""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction

from organizations.credentials import credential_create
from organizations.errors import RuleViolation
from organizations.models import Credential
from partners import services as billing_partners

from .support import at, monthly_plans, partner_firm
from .support import client as make_client

MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)


def _waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_a_key_made_during_the_handover_waits_for_it_and_is_refused():
    partner, anna = partner_firm()
    team, plus = monthly_plans()
    link = make_client(partner, anna, name="Bageriet Hansen", on=MAR_1, plan=team, seats=5)
    handed_over, may_commit = threading.Event(), threading.Event()
    creator = {}

    def hand_over():
        try:
            with transaction.atomic():
                billing_partners.agreement_handover(
                    link=link,
                    plan=plus,
                    superuser_name="Mette",
                    superuser_reference="",
                    superuser_email="mette@bageriet.dk",
                    on=MAR_17,
                    at=at(MAR_17),
                    acting_user=anna,
                )
                handed_over.set()
                assert may_commit.wait(timeout=60)
        finally:
            connections.close_all()

    def make_key():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                creator["pid"] = cursor.fetchone()[0]
            try:
                credential_create(
                    organization=link.organization,
                    kind=Credential.Kind.API_KEY,
                    name="Late",
                    at=at(MAR_17),
                    acting_user=anna,
                    scopes=["usage:write", "usage:read", "entitlements:read"],
                )
            except RuleViolation as refusal:
                creator["refusal"] = refusal
        finally:
            connections.close_all()

    handover = threading.Thread(target=hand_over)
    handover.start()
    assert handed_over.wait(timeout=60)
    maker = threading.Thread(target=make_key)
    maker.start()
    deadline = time.monotonic() + 60
    while not ("pid" in creator and _waits_for_a_lock(creator["pid"])):
        assert time.monotonic() < deadline, "the key's creation never waited for the handover"
        assert maker.is_alive(), "the key was made without waiting for the handover"
        time.sleep(0.01)
    may_commit.set()
    handover.join(timeout=60)
    maker.join(timeout=60)

    assert creator["refusal"].code == "owner_required"
    assert not Credential.objects.filter(organization=link.organization).exists()
