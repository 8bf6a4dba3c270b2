"""A real client proves the API's schema (issue 24, item 7).

openapi-python-client generates a typed Python client from the OpenAPI document the running
app serves (`/api/schema/`), exactly as an integrator would (docs/api.md, "A generated
client"), and fails on any warning about the document. The SaaS's round then runs through that
client's functions and models only, against pytest-django's live server on loopback
(PostgreSQL): a key with `keys:write` makes the backend's key; with it, usage is reported, an
entitlement checked and the usage overview read, seats previewed and bought with an
Idempotency-Key (replayed once, reused for another body once) and the invoices listed. Another
organization's key gets 404.
"""

import datetime as dt
import importlib
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from billing.models import PlanLimit
from billing.selectors import seats_total, subscription_live
from core.currencies import minor_units
from invoices.models import Invoice
from organizations.credentials import credential_create
from organizations.models import Credential, IdempotentRequest, Scope
from tests.billing.support import subscribed_organization

MAR_1 = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 17, 9, 0, tzinfo=dt.UTC)
PACKAGE = "seatbill_api_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture(scope="module")
def generated(django_db_setup, live_server, tmp_path_factory):
    """The client generated from the schema the live server serves now, imported."""
    assert GENERATOR.exists(), "openapi-python-client is in the test extra: make test installs it"
    folder = tmp_path_factory.mktemp("generated")
    out = folder / PACKAGE
    # The first schema a process builds takes seconds (the generator waits 5 by default).
    config = folder / "generator.yml"
    config.write_text("http_timeout: 60\n")
    # The generator formats its output with ruff (its post hooks): the venv's, on PATH.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{live_server.url}/api/schema/",
            "--meta",
            "none",
            "--output-path",
            str(out),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower() and "error" not in output.lower(), output
    assert time.monotonic() - started < 30, "generating the client should take seconds"

    sys.path.insert(0, str(folder))
    try:

        def module(name: str):
            return importlib.import_module(f"{PACKAGE}.{name}")

        yield SimpleNamespace(
            AuthenticatedClient=module("client").AuthenticatedClient,
            models=module("models"),
            api_keys_create=module("api.api_keys.api_keys_create"),
            usage_events_record=module("api.usage.usage_events_record"),
            entitlements_check=module("api.usage.entitlements_check"),
            usage_overview=module("api.usage.usage_overview"),
            seats_purchase_preview=module("api.subscription.seats_purchase_preview"),
            seats_purchase=module("api.subscription.seats_purchase"),
            invoices_list=module("api.invoices.invoices_list"),
        )
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def key_secret(organization, owner, *scopes: str) -> str:
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Provisioning",
        at=NOW,
        acting_user=owner,
        scopes=scopes,
    )
    return secret


@pytest.fixture
def acme():
    """Acme on a monthly EUR plan since 1 March (6 seats, 10.00 a seat, 25 % VAT, Denmark),
    with a hard limit of 1,000 AI tokens, and a provisioning key that may make keys."""
    organization, subscription, owner = subscribed_organization(
        start=MAR_1, seats=6, base_price_minor=2000, seat_price_minor=1000, included_seats=3
    )
    PlanLimit.objects.create(plan=subscription.plan, meter="ai_tokens", limit=1000, hard=True)
    provisioning = key_secret(
        organization,
        owner,
        Scope.KEYS_WRITE,
        Scope.USAGE_WRITE,
        Scope.USAGE_READ,
        Scope.ENTITLEMENTS_READ,
        Scope.BILLING_READ,
        Scope.BILLING_WRITE,
    )
    return SimpleNamespace(organization=organization, owner=owner, provisioning=provisioning)


def seats_of(organization) -> int:
    return seats_total(subscription=subscription_live(organization=organization))


def test_the_saas_round_through_the_generated_client(generated, live_server, acme):
    m = generated.models
    org_id = acme.organization.pk

    def connect(secret: str):
        return generated.AuthenticatedClient(
            base_url=live_server.url, token=secret, raise_on_unexpected_status=True
        )

    # The provisioning key makes the backend's key, with scopes it holds itself.
    made = generated.api_keys_create.sync_detailed(
        org_id,
        client=connect(acme.provisioning),
        body=m.ApiKeyListCreateInput(
            name="Backend",
            scopes=[
                m.ScopesEnum.USAGE_WRITE,
                m.ScopesEnum.USAGE_READ,
                m.ScopesEnum.ENTITLEMENTS_READ,
                m.ScopesEnum.BILLING_READ,
                m.ScopesEnum.BILLING_WRITE,
            ],
        ),
    )
    assert made.status_code == 201, made.content
    key = made.parsed
    assert isinstance(key, m.ApiKeyListCreateOutput)
    assert key.secret.startswith(key.prefix + "_") and key.revoked_at is None
    assert set(key.scopes) == {
        m.ScopesEnum.USAGE_WRITE,
        m.ScopesEnum.USAGE_READ,
        m.ScopesEnum.ENTITLEMENTS_READ,
        m.ScopesEnum.BILLING_READ,
        m.ScopesEnum.BILLING_WRITE,
    }
    stored = Credential.objects.get(pk=key.id)
    assert (stored.organization_id, stored.name) == (org_id, "Backend")
    backend = connect(key.secret)  # from here on, the new key only

    # Usage: two events, one sent twice (counted once).
    def tokens(event_id: str, quantity: int):
        return m.UsageEvent(
            event_id=event_id,
            meter=m.MeterEnum.AI_TOKENS,
            quantity=quantity,
            timestamp=NOW - dt.timedelta(minutes=10),
            dimensions=m.UsageEventDimensions(model="gpt-5-mini", action="chat"),
        )

    reported = generated.usage_events_record.sync(
        client=backend,
        body=m.UsageEventsRecordInput(
            events=[tokens("run-1", 300), tokens("run-2", 200), tokens("run-1", 300)]
        ),
    )
    assert isinstance(reported, m.UsageEventsRecordOutput)
    assert (reported.accepted, reported.duplicates, reported.rejected) == (2, 1, 0)
    assert [result.status for result in reported.results] == ["accepted", "accepted", "duplicate"]

    # The entitlement: 500 of 1,000 used; 400 more may be used, 600 more may not.
    may = generated.entitlements_check.sync(
        org_id, m.EntitlementsCheckMeter.AI_TOKENS, client=backend, quantity=400
    )
    assert isinstance(may, m.Entitlement)
    assert (may.limit, may.used, may.remaining, may.allowed, may.hard) == (1000, 500, 500, True, True)
    may_not = generated.entitlements_check.sync(
        org_id, m.EntitlementsCheckMeter.AI_TOKENS, client=backend, quantity=600
    )
    assert (may_not.allowed, may_not.would_exceed) == (False, True)
    overview = generated.usage_overview.sync(org_id, client=backend)
    assert isinstance(overview, m.UsageOverviewOutput)
    (ai_tokens,) = [meter for meter in overview.meters if meter.meter == "ai_tokens"]
    assert (ai_tokens.used, ai_tokens.percent, overview.overall_percent) == (500, 50, 50)

    # Seats: the preview, then the purchase with an Idempotency-Key, replayed.
    preview = generated.seats_purchase_preview.sync(
        org_id, client=backend, body=m.SeatPurchasePreviewInput(count=4)
    )
    assert isinstance(preview, m.Preview)
    assert preview.allowed and preview.refusal is None
    # 4 seats × 10.00 × 15/31 = 19.35, VAT 25 %: 4.84.
    assert (preview.currency, preview.amount_due_now, preview.amount_due_now_minor) == ("EUR", "24.19", 2419)
    (document,) = preview.documents
    (line,) = document.lines
    assert (line.currency, line.unit_price_minor, line.amount_minor) == ("EUR", 1000, 1935)
    assert (document.currency, document.tax_minor, document.total_minor) == ("EUR", 484, 2419)
    purchase = m.SeatPurchaseInput(count=4, state_token=preview.state_token)

    first = generated.seats_purchase.sync_detailed(
        org_id, client=backend, body=purchase, idempotency_key="buy-4-seats"
    )
    replayed = generated.seats_purchase.sync_detailed(
        org_id, client=backend, body=purchase, idempotency_key="buy-4-seats"
    )

    assert first.status_code == 200, first.content
    bought = first.parsed
    assert isinstance(bought, m.ChangeResult)
    assert bought.subscription.seats.seats == 10
    (issued,) = bought.invoices
    assert (issued.reason, issued.currency, issued.amount_due, issued.amount_due_minor) == (
        "seat_change",
        "EUR",
        "24.19",
        2419,
    )
    assert "Idempotent-Replayed" not in first.headers
    assert replayed.status_code == 200 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.parsed.to_dict() == bought.to_dict()

    # The same key with another request: refused, nothing bought.
    other_preview = generated.seats_purchase_preview.sync(
        org_id, client=backend, body=m.SeatPurchasePreviewInput(count=2)
    )
    reused = generated.seats_purchase.sync_detailed(
        org_id,
        client=backend,
        body=m.SeatPurchaseInput(count=2, state_token=other_preview.state_token),
        idempotency_key="buy-4-seats",
    )
    assert reused.status_code == 422
    assert isinstance(reused.parsed, m.Error) and reused.parsed.code == "idempotency_key_reused"

    # One purchase happened: 10 seats, one seat invoice, one remembered request.
    organization = acme.organization
    assert seats_of(organization) == 10
    invoice = Invoice.objects.get(organization=organization, reason="seat_change")
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.amount_due_minor) == (1935, 484, 2419)
    assert IdempotentRequest.objects.filter(organization=organization).count() == 1

    # The invoices, newest first: the seat purchase's, each amount its integer minor units (typed
    # int by the generated model) beside the display string in the currency's decimals.
    page = generated.invoices_list.sync(org_id, client=backend)
    assert isinstance(page, m.PaginatedInvoiceSummaryList)
    assert page.count == Invoice.objects.filter(organization=organization).count() == 2
    listed = page.results[0]
    assert (listed.id, listed.number, listed.reason, listed.currency) == (
        invoice.pk,
        invoice.number,
        "seat_change",
        "EUR",
    )
    places = minor_units(listed.currency)
    for shown, minor, stored in [
        (listed.subtotal, listed.subtotal_minor, invoice.subtotal_minor),
        (listed.tax, listed.tax_minor, invoice.tax_minor),
        (listed.total, listed.total_minor, invoice.total_minor),
        (listed.credit_applied, listed.credit_applied_minor, invoice.credit_applied_minor),
        (listed.amount_due, listed.amount_due_minor, invoice.amount_due_minor),
    ]:
        assert type(minor) is int and minor == stored
        assert isinstance(shown, str) and len(shown.partition(".")[2]) == places
        assert Decimal(shown).scaleb(places) == minor
    assert listed.to_dict() == issued.to_dict()


def test_another_organizations_key_gets_404_through_the_generated_client(generated, live_server, acme):
    m = generated.models
    other, _subscription, other_owner = subscribed_organization(start=MAR_1)
    secret = key_secret(other, other_owner, Scope.BILLING_READ, Scope.BILLING_WRITE, Scope.ENTITLEMENTS_READ)
    stranger = generated.AuthenticatedClient(
        base_url=live_server.url,
        token=secret,
        raise_on_unexpected_status=True,
    )
    org_id = acme.organization.pk
    seats_before = seats_of(acme.organization)

    answers = [
        generated.invoices_list.sync_detailed(org_id, client=stranger),
        generated.entitlements_check.sync_detailed(org_id, m.EntitlementsCheckMeter.SEATS, client=stranger),
        generated.seats_purchase_preview.sync_detailed(
            org_id, client=stranger, body=m.SeatPurchasePreviewInput(count=1)
        ),
        generated.seats_purchase.sync_detailed(
            org_id,
            client=stranger,
            body=m.SeatPurchaseInput(count=1, state_token="0" * 32),
            idempotency_key="stranger",
        ),
    ]

    assert [(answer.status_code, answer.parsed.code) for answer in answers] == [(404, "not_found")] * 4
    assert all(isinstance(answer.parsed, m.Error) for answer in answers)
    assert seats_of(acme.organization) == seats_before
    assert not IdempotentRequest.objects.exists()
    # The stranger's key works on its own organization.
    own = generated.invoices_list.sync(other.pk, client=stranger)
    assert isinstance(own, m.PaginatedInvoiceSummaryList) and own.count == 1
