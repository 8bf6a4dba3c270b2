"""The webhooks API: the same as the pages for programs, in the one error format; owners and
admins by their session; another organization's endpoints and deliveries are 404."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from organizations.credentials import credential_create
from organizations.models import Credential, Organization, Role
from tests.factories import InvoiceFactory, MembershipFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.signature import verify_signature

pytestmark = pytest.mark.django_db


def fresh(organization):
    """The organization as a request or a task reads it (its `webhooks_active` too)."""
    return Organization.objects.get(pk=organization.pk)


def api(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    return client


@pytest.fixture
def owner():
    return MembershipFactory(role=Role.OWNER)


def base(organization) -> str:
    return f"/api/v1/organizations/{organization.pk}"


def test_create_list_change_roll_and_replay(
    owner, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    client = api(owner)
    organization = owner.organization
    created = client.post(
        f"{base(organization)}/webhook-endpoints/",
        {"url": receiver.url, "events": ["invoice.issued"], "description": "Backend"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and body["events"] == ["invoice.issued"] and body["active"]

    listed = client.get(f"{base(organization)}/webhook-endpoints/").json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    assert secret.startswith(listed[0]["secret_hint"].rstrip("…"))

    changed = client.patch(
        f"{base(organization)}/webhook-endpoints/{body['id']}/",
        {"events": ["invoice.issued", "invoice.paid"]},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["events"] == ["invoice.issued", "invoice.paid"]

    rolled = client.post(
        f"{base(organization)}/webhook-endpoints/{body['id']}/roll-secret", {"grace_hours": 1}, format="json"
    )
    assert rolled.status_code == 200
    new = rolled.json()["secret"]
    assert new != secret
    assert rolled.json()["previous_secret_expires_at"] == (
        frozen_clock.at + dt.timedelta(hours=1)
    ).isoformat().replace("+00:00", "Z")

    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    (request,) = receiver.received
    for key in (secret, new):
        verify_signature(request.body, request.headers["Seatbill-Signature"], key, tolerance=0)

    log = client.get(f"{base(organization)}/webhook-deliveries/?endpoint_id={body['id']}").json()
    assert [(d["event_type"], d["status"], d["attempts"], d["response_status"]) for d in log] == [
        ("invoice.issued", "succeeded", 1, 200)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        replayed = client.post(
            f"{base(organization)}/webhook-deliveries/{log[0]['id']}/replay", HTTP_IDEMPOTENCY_KEY="replay-1"
        )
        again = client.post(
            f"{base(organization)}/webhook-deliveries/{log[0]['id']}/replay", HTTP_IDEMPOTENCY_KEY="replay-1"
        )
    assert replayed.status_code == again.status_code == 201
    assert replayed.json()["replay_of"] == log[0]["id"] and replayed.json()["event_id"] == log[0]["event_id"]
    assert again["Idempotent-Replayed"] == "true"
    assert WebhookDelivery.objects.count() == 2 and len(receiver.received) == 2


def test_bad_input_answers_400_in_the_one_error_format(owner, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False
    client = api(owner)
    url = f"{base(owner.organization)}/webhook-endpoints/"
    refused = client.post(url, {"url": "http://example.com/", "events": ["invoice.issued"]}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "invalid_webhook_endpoint",
        "message": "Enter an https:// URL.",
        "field": "url",
    }
    unknown = client.post(url, {"url": "https://example.com/", "events": ["invoice.voided"]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid"
    # One list of messages per input (docs/api.md): the list's item is named by its path.
    assert unknown.json()["fields"] == {"events.0": ['"invoice.voided" is not a valid choice.']}
    assert not WebhookEndpoint.objects.exists()


def test_another_organization_gets_404_and_members_403(
    owner, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    organization = owner.organization
    client = api(owner)
    endpoint_id = client.post(
        f"{base(organization)}/webhook-endpoints/",
        {"url": receiver.url, "events": ["invoice.issued"]},
        format="json",
    ).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    delivery = WebhookDelivery.objects.get()

    outsider = MembershipFactory(role=Role.OWNER)
    other = api(outsider)
    theirs = base(outsider.organization)
    assert other.get(f"{theirs}/webhook-endpoints/").json() == []
    assert other.get(f"{theirs}/webhook-deliveries/").json() == []
    assert other.get(f"{theirs}/webhook-endpoints/{endpoint_id}/").status_code == 404
    assert (
        other.patch(
            f"{theirs}/webhook-endpoints/{endpoint_id}/", {"active": False}, format="json"
        ).status_code
        == 404
    )
    assert other.post(f"{theirs}/webhook-endpoints/{endpoint_id}/roll-secret").status_code == 404
    assert other.post(f"{theirs}/webhook-deliveries/{delivery.pk}/replay").status_code == 404
    assert other.get(f"{theirs}/webhook-deliveries/?endpoint_id={endpoint_id}").status_code == 404
    assert other.get(f"{base(organization)}/webhook-endpoints/").status_code == 404
    assert other.post(f"{base(organization)}/webhook-deliveries/{delivery.pk}/replay").status_code == 404

    member = api(MembershipFactory(organization=organization, role=Role.MEMBER))
    answer = member.get(f"{base(organization)}/webhook-endpoints/")
    assert answer.status_code == 403 and set(answer.json()) == {"code", "message", "field"}
    admin = api(MembershipFactory(organization=organization, role=Role.ADMIN))
    assert admin.get(f"{base(organization)}/webhook-endpoints/").status_code == 200

    # An API key manages webhooks only with the webhooks scopes an owner chose for it.
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=frozen_clock.at,
        scopes=["usage:write"],
    )
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    refused = keyed.get(f"{base(organization)}/webhook-endpoints/")
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")
    _key, reader_secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="Reader",
        at=frozen_clock.at,
        scopes=["webhooks:read"],
    )
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {reader_secret}")
    assert reader.get(f"{base(organization)}/webhook-endpoints/").status_code == 200
    assert reader.post(f"{base(organization)}/webhook-deliveries/{delivery.pk}/replay").status_code == 403

    assert WebhookEndpoint.objects.get().active and WebhookDelivery.objects.count() == 1
    assert len(receiver.received) == 1
