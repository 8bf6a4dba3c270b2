"""The webhooks pages: owners and admins add endpoints (the secret shown once), pick events,
roll the secret, disable, and replay from the delivery log (HTMX); nobody else, and never
another organization's."""

import json

import pytest
from django.test import Client

from organizations.models import AuditLogEntry, Organization, Role
from tests.factories import InvoiceFactory, MembershipFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.signature import verify_signature

pytestmark = pytest.mark.django_db


def fresh(organization):
    """The organization as a request or a task reads it (its `webhooks_active` too)."""
    return Organization.objects.get(pk=organization.pk)


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.fixture
def owner():
    return MembershipFactory(role=Role.OWNER)


@pytest.fixture
def outsider():
    return MembershipFactory(role=Role.OWNER)  # the owner of another organization


def add_endpoint(client, organization, url, events=("invoice.issued",)):
    return client.post(
        f"/o/{organization.slug}/webhooks/", {"url": url, "description": "Backend", "events": list(events)}
    )


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(owner, receiver, frozen_clock):
    client = signed_in(owner)
    organization = owner.organization
    response = add_endpoint(client, organization, receiver.url, ["invoice.issued", "seat.added"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(organization=organization)
    assert endpoint.events == ["invoice.issued", "seat.added"]
    assert endpoint.secret in response.content.decode()

    page = client.get(f"/o/{organization.slug}/webhooks/").content.decode()
    assert receiver.url in page and endpoint.secret_hint in page
    assert endpoint.secret not in page
    detail = client.get(f"/o/{organization.slug}/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in detail
    assert AuditLogEntry.objects.filter(organization=organization, action="webhook_endpoint.create").exists()


def test_bad_input_is_refused_with_a_clear_message(owner, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False
    client = signed_in(owner)
    response = add_endpoint(client, owner.organization, "http://example.com/hook")
    assert response.status_code == 400 and "Enter an https:// URL." in response.content.decode()
    response = add_endpoint(client, owner.organization, "https://example.com/hook", events=[])
    assert response.status_code == 400 and "Choose at least one event." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rolling_the_secret_shows_the_new_one_once_and_both_sign_for_the_grace(
    owner, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    client = signed_in(owner)
    organization = owner.organization
    add_endpoint(client, organization, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    old = endpoint.secret

    response = client.post(f"/o/{organization.slug}/webhooks/{endpoint.pk}/roll/", {"grace_hours": "24"})
    endpoint.refresh_from_db()
    assert response.status_code == 200 and endpoint.secret in response.content.decode()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert old not in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    (request,) = receiver.received
    for secret in (old, endpoint.secret):
        verify_signature(request.body, request.headers["Seatbill-Signature"], secret, tolerance=0)


def test_the_log_shows_each_delivery_and_replay_sends_it_again_in_place(
    owner, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    client = signed_in(owner)
    organization = owner.organization
    add_endpoint(client, organization, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    delivery = WebhookDelivery.objects.get()

    page = client.get(f"/o/{organization.slug}/webhooks/{endpoint.pk}/").content.decode()
    assert delivery.event.public_id in page and "invoice.issued" in page
    assert "answered 500" in page

    receiver.statuses = [200]
    frozen_clock.advance(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/o/{organization.slug}/webhooks/deliveries/{delivery.pk}/replay/",
            {"scope": "endpoint"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith("<section") and 'id="delivery-log"' in fragment
    assert "<html" not in fragment
    replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (replay.status, replay.replay_of_id, replay.response_status) == ("succeeded", delivery.pk, 200)
    assert f'id="delivery-{replay.pk}"' in fragment
    assert [json.loads(r.body)["id"] for r in receiver.received] == [delivery.event.public_id] * 2


def test_another_organization_cannot_see_change_or_replay(
    owner, outsider, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    organization = owner.organization
    add_endpoint(signed_in(owner), organization, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    delivery = WebhookDelivery.objects.get()
    other = signed_in(outsider)
    theirs = outsider.organization.slug

    for slug in (organization.slug, theirs):
        assert other.get(f"/o/{slug}/webhooks/{endpoint.pk}/").status_code == 404
        assert other.post(f"/o/{slug}/webhooks/{endpoint.pk}/roll/", {"grace_hours": "0"}).status_code == 404
        assert other.post(f"/o/{slug}/webhooks/{endpoint.pk}/active/", {"active": "0"}).status_code == 404
        assert other.post(f"/o/{slug}/webhooks/deliveries/{delivery.pk}/replay/").status_code == 404
    assert other.get(f"/o/{organization.slug}/webhooks/").status_code == 404
    own_page = other.get(f"/o/{theirs}/webhooks/").content.decode()
    assert receiver.url not in own_page and delivery.event.public_id not in own_page

    endpoint.refresh_from_db()
    assert endpoint.active and not endpoint.previous_secret
    assert WebhookDelivery.objects.count() == 1 and len(receiver.received) == 1


@pytest.mark.parametrize(("role", "status"), [(Role.ADMIN, 200), (Role.FINANCE, 403), (Role.MEMBER, 403)])
def test_admins_manage_webhooks_finance_and_members_do_not(owner, role, status):
    membership = MembershipFactory(organization=owner.organization, role=role)
    client = signed_in(membership)
    assert client.get(f"/o/{owner.organization.slug}/webhooks/").status_code == status


def test_disabling_stops_deliveries_and_enabling_resumes(
    owner, receiver, frozen_clock, django_capture_on_commit_callbacks
):
    client = signed_in(owner)
    organization = owner.organization
    add_endpoint(client, organization, receiver.url)
    endpoint = WebhookEndpoint.objects.get()
    response = client.post(f"/o/{organization.slug}/webhooks/{endpoint.pk}/active/", {"active": "0"})
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    assert receiver.received == []
    client.post(f"/o/{organization.slug}/webhooks/{endpoint.pk}/active/", {"active": "1"})
    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=fresh(organization))
    assert len(receiver.received) == 1
