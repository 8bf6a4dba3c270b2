"""The OpenAPI document against the running API: schemathesis calls every operation of
/api/schema/ on a live server (pytest-django's `live_server`: a real HTTP server on
127.0.0.1 over the PostgreSQL test database), once with the organization's API key holding
every scope and once in the owner's session (CSRF token on writes), and checks each answer:
no 5xx, only documented status codes, the documented content type and headers, and a body
that the operation's schema accepts.

Each operation gets its example request (api/examples.json, as the document shows it; a
confirmation with the state token its preview gives now) and then bounded generated requests
(hypothesis, derandomized: the same requests on every run; valid ones, then invalid ones),
half of them aimed at the organization's real objects (a member, an invoice, a credit note, a
unit, a client, a webhook endpoint and delivery, a spare key), half at whatever ids were
generated. Deletions come last, and each caller removes its own member, unit and key. The
organization is a partner firm (so the partner operations have a client to act on) on a paid
plan with members, invoices, a credit note, a unit type with units, a webhook endpoint with a
failed delivery and API keys. The clock is frozen on 17 March 2026.

Rate limits: the key's and the organization's buckets and the invitation limits are raised
for this test (`generous_limits`), so that only the schema decides; 429 stays documented on
every operation (tests/test_api_contract.py) and is tested in tests/test_api_rate_limits.py.
No request leaves the machine: webhook deliveries find no address (`offline`).

The summary (operations, test cases, passed, failed, statuses, operations that answered 2xx)
is printed (`pytest -s`) and written, with every failure and the operations that never
answered 2xx, to tests/artifacts/schemathesis-summary.txt.
"""

import datetime as dt
import json
import os
import socket
import time
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing import services as engine
from billing.models import PlanUnitType, Unit
from billing.selectors import subscription_live
from core import outbound
from invoices.models import CreditNote, Invoice
from organizations import partners as org_partners
from organizations.credentials import credential_create
from organizations.models import Credential, Role, Scope
from partners import services as billing_partners
from tests.billing.support import at, subscribed_organization
from tests.factories import MembershipFactory, PlanFactory
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)

MAR_1, MAR_17 = dt.date(2026, 3, 1), dt.date(2026, 3, 17)
NOW = at(MAR_17)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Generated requests per operation and caller, after its example: valid ones, then invalid
# ones. The defaults keep the test under a minute on two cores (CI's whole run must stay
# under 20 minutes); a deeper run locally: SCHEMATHESIS_MAX_EXAMPLES=25
# SCHEMATHESIS_MAX_NEGATIVE=12 (about 7 minutes: 3,344 cases, 0 failed on 2026-12-07).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", 3))
MAX_NEGATIVE = int(os.environ.get("SCHEMATHESIS_MAX_NEGATIVE", 1))
# Operations that answered 2xx at least once, of 44 (measured: the key 41, the session 37: it
# comes second, after the key invited the example's person and made the example's client and
# units, and ingestion takes keys only), with a margin.
REACHED = {"key": 38, "session": 34}
CALLERS = ("key", "session")
SUMMARY = Path(__file__).resolve().parent / "artifacts" / "schemathesis-summary.txt"
CSRF_TOKEN = "schemathesisCsrfToken0123456789a"  # 32 letters and digits: a token Django accepts


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture
def generous_limits(settings):
    settings.API_RATE_LIMITS = {"key": (100_000.0, 100_000), "organization": (100_000.0, 100_000)}
    settings.THROTTLES = {**settings.THROTTLES, "invitations_address": (100_000, 3600)}
    settings.THROTTLES["invitations_organization"] = (100_000, 3600)


@pytest.fixture
def offline(monkeypatch):
    """No name is looked up but the live server's: a webhook delivery to any address fails as
    one that does not resolve (and is retried later, which this test never reaches)."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no lookups in this test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)

    def unresolvable(origin):
        raise outbound.OutboundFailed(f"{origin.host} does not resolve (offline test)")

    monkeypatch.setattr(outbound, "_resolve", unresolvable)


@pytest.fixture
def firm():
    """The ids of a partner firm's objects per caller (each has its own member, unit and spare
    key to remove) and the secret of its key with every scope."""
    organization, _subscription, owner = subscribed_organization(
        start=MAR_1, seats=6, base_price_minor=2000, seat_price_minor=1000, included_seats=3
    )
    org_partners.partner_enable(organization=organization, at=at(MAR_1))
    for role in (Role.ADMIN, Role.FINANCE):
        MembershipFactory(organization=organization, role=role)
    members = [MembershipFactory(organization=organization, role=Role.MEMBER) for _caller in CALLERS]
    # A cheaper plan on 17 March: a credit note for the rest of March.
    smaller = PlanFactory(base_price_minor=1500, seat_price_minor=800, included_seats=3, max_seats=20)
    engine.plan_change(organization=organization, plan=smaller, on=MAR_17, at=NOW, acting_user=owner)
    # The plans api/examples.json's requests name, so that the examples can succeed.
    PlanFactory(code="scale-monthly", name="Scale", base_price_minor=9000, max_seats=50)
    PlanFactory(
        code="team-monthly", name="Team", base_price_minor=30000, seat_price_minor=5000, included_seats=3
    )
    plan = subscription_live(organization=organization).plan
    PlanUnitType.objects.create(
        plan=plan, code="phone_numbers", name="Phone numbers", unit_price_minor=500, max_units=10
    )
    units = [
        Unit.objects.create(
            organization=organization,
            code="phone_numbers",
            label=f"+45 70 00 00 0{number}",
            created_on=MAR_17,
            created_at=NOW,
        )
        for number in range(len(CALLERS))
    ]
    client_link = billing_partners.client_create(
        partner=organization, name="Klient ApS", acting_user=owner, at=NOW, plan=plan, seats=3
    )
    endpoint, _secret = webhook_services.endpoint_create(
        organization=organization, url="https://hooks.example.com/seatbill", events=["seat.added"], at=NOW
    )
    event = WebhookEvent.objects.create(
        organization=organization, type="seat.added", key="test", payload={}, created_at=NOW
    )
    delivery = WebhookDelivery.objects.create(
        organization=organization, endpoint=endpoint, event=event, status="failed", created_at=NOW
    )
    key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=NOW,
        acting_user=owner,
        scopes=list(Scope.values),
    )
    spares = [
        credential_create(
            organization=organization,
            kind=Credential.Kind.API_KEY,
            name=f"Spare {caller}",
            at=NOW,
            acting_user=owner,
            scopes=[Scope.USAGE_WRITE],
        )[0]
        for caller in CALLERS
    ]
    shared = {
        "organization_id": organization.pk,
        "invoice_id": Invoice.objects.filter(organization=organization).first().pk,
        "credit_note_id": CreditNote.objects.get(organization=organization).pk,
        "client_id": client_link.organization_id,
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery.pk,
        "meter": "ai_tokens",
        "series": "daily",
    }
    return {
        "owner": owner,
        "secret": secret,
        "ids": {
            caller: {**shared, "membership_id": member.pk, "unit_id": unit.pk, "key_id": spare.pk}
            for caller, member, unit, spare in zip(CALLERS, members, units, spares, strict=True)
        },
        "key_in_use": key.pk,
    }


class Tally:
    def __init__(self):
        self.operations: set[str] = set()
        self.cases = self.passed = 0
        self.failures: dict[tuple[str, str], str] = {}  # (caller, operation) -> the first failure
        self.statuses: dict[int, int] = {}
        self.limited: dict[tuple, int] = {}  # (caller, operation, status, code) -> 401s and 429s
        self.succeeded: set[tuple[str, str]] = set()  # (caller, operation) answered 2xx at least once

    def record(self, caller: str, label: str, response, error: Exception | None) -> None:
        self.operations.add(label)
        self.cases += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code < 300:
            self.succeeded.add((caller, label))
        if response.status_code in (401, 429):
            which = (caller, label, response.status_code, response.json().get("code"))
            self.limited[which] = self.limited.get(which, 0) + 1
        if error is None:
            self.passed += 1
        else:
            self.failures.setdefault((caller, label), f"{type(error).__name__}: {error}"[:3000])

    def line(self, seconds: float) -> str:
        failed = self.cases - self.passed
        return (
            f"schemathesis {schemathesis.__version__}: {len(self.operations)} operations, "
            f"{self.cases} test cases, {self.passed} passed, {failed} failed in {seconds:.0f}s "
            f"(statuses: {json.dumps(dict(sorted(self.statuses.items())))}; operations answered 2xx: "
            f"key {self.reached('key')}, session {self.reached('session')})"
        )

    def reached(self, caller: str) -> int:
        return sum(1 for who, _label in self.succeeded if who == caller)


def _with_a_fresh_state_token(operation, body: dict, http, real: dict, extra_headers: dict) -> dict:
    """A confirmation's example with the state token of its preview now (`…/preview` beside
    it, asked with the same body), so that the example can succeed; the preview's own answer is
    checked when its operation's turn comes."""
    asked = {name: value for name, value in body.items() if name not in ("state_token", "keep")}
    url = http.base_url + (operation.path.rstrip("/") + "/preview").format(**real)
    preview = http.post(url, json=asked, headers=extra_headers, timeout=30)
    if preview.status_code != 200:
        return body
    return (
        {**body, "state_token": preview.json()["state_token"], "keep": []}
        if "keep" in body
        else {
            **body,
            "state_token": preview.json()["state_token"],
        }
    )


def _run_operation(operation, caller, http, ids, key_in_use, tally, extra_headers, sent):
    """The operation's example, then MAX_EXAMPLES generated requests."""
    label = operation.label
    names = {parameter.name for parameter in operation.path_parameters}
    real = {name: value for name, value in ids.items() if name in names}

    def call(case):
        case.path_parameters = {**(case.path_parameters or {}), "organization_id": ids["organization_id"]}
        if case.path_parameters.get("key_id") == key_in_use:
            # Revoking the key the test calls with would leave the rest of the run 401.
            case.path_parameters["key_id"] = ids["key_id"]
        # The security schemes' generated values (a random bearer, a random session cookie)
        # give way to the caller's own credential.
        if case.headers:
            case.headers.pop("Authorization", None)
            if "Idempotency-Key" in case.headers:
                # A fresh key per request: a generated one repeats ("0"), and the answer would
                # be 422 idempotency_key_reused before the operation runs.
                case.headers["Idempotency-Key"] = f"schemathesis-{caller}-{next(sent)}"
        if case.cookies:
            case.cookies.pop(django_settings.SESSION_COOKIE_NAME, None)
        response = case.call(base_url=http.base_url, session=http, headers=extra_headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=extra_headers)
        except (AssertionError, FailureGroup) as error:  # every failure is reported together at the end
            tally.record(caller, label, response, error)
        else:
            tally.record(caller, label, response, None)

    example = operation.definition.raw.get("requestBody", {}).get("content", {}).get("application/json", {})
    body = example.get("example", NOT_SET) if example else NOT_SET
    if isinstance(body, dict) and "state_token" in body:
        body = _with_a_fresh_state_token(operation, body, http, real, extra_headers)
    media_type = None if body is NOT_SET else "application/json"
    call(operation.Case(path_parameters=dict(real), body=body, media_type=media_type))

    counter = iter(range(10**6))

    for mode, examples in ((GenerationMode.POSITIVE, MAX_EXAMPLES), (GenerationMode.NEGATIVE, MAX_NEGATIVE)):

        @hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def generated(case):
            if next(counter) % 2 == 0:  # every other request at the real objects
                case.path_parameters = {**(case.path_parameters or {}), **real}
            call(case)

        generated()


def test_every_operation_answers_as_the_schema_says(live_server, firm, generous_limits, offline):
    started = time.monotonic()
    login = Client()
    login.force_login(firm["owner"])
    session_cookie = login.cookies[django_settings.SESSION_COOKIE_NAME].value
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json",
        cookies={django_settings.SESSION_COOKIE_NAME: session_cookie},
        timeout=30,
    )
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda operation: operation.label
    )
    assert len(operations) >= 44

    key = requests.Session()
    key.base_url = live_server.url
    person = requests.Session()
    person.base_url = live_server.url
    person.cookies.set(django_settings.SESSION_COOKIE_NAME, session_cookie)
    person.cookies.set(django_settings.CSRF_COOKIE_NAME, CSRF_TOKEN)
    callers = [  # in CALLERS' order
        ("key", key, {"Authorization": f"Bearer {firm['secret']}"}),
        ("session", person, {"X-CSRFToken": CSRF_TOKEN}),
    ]
    tally = Tally()
    sent = iter(range(10**9))
    # Deletions last, for both callers: what they end is there for every other operation.
    for deleting in (False, True):
        for caller, http, headers in callers:
            for operation in operations:
                if (operation.method.upper() == "DELETE") == deleting:
                    ids = firm["ids"][caller]
                    _run_operation(operation, caller, http, ids, firm["key_in_use"], tally, headers, sent)

    seconds = time.monotonic() - started
    summary = tally.line(seconds)
    SUMMARY.parent.mkdir(exist_ok=True)
    refused = ", ".join(
        f"{caller} {label} {status} {code}: {count}"
        for (caller, label, status, code), count in tally.limited.items()
    )
    never = {
        caller: sorted(label for label in tally.operations if (caller, label) not in tally.succeeded)
        for caller, _http, _headers in callers
    }
    report = [
        summary,
        f"401 and 429 answers: {refused or 'none'}",
        f"never 2xx: {json.dumps(never, indent=1)}",
    ] + [f"{caller} {label}: {failure}" for (caller, label), failure in tally.failures.items()]
    SUMMARY.write_text("\n\n".join(report) + "\n")
    print(summary)
    assert tally.failures == {}, "\n\n".join(report)
    assert tally.cases >= len(operations) * 2 * (MAX_EXAMPLES // 2)
    # Both credentials really got through: most operations succeeded at least once for each.
    assert all(tally.reached(caller) >= REACHED[caller] for caller in CALLERS), summary
