"""An organization's webhook URL is hostile input: deliveries go through core/outbound.py.

No traffic beyond loopback: a name outside it is answered by the stub resolver of
tests/identity/test_outbound.py, and every socket connection is counted.
"""

import datetime as dt

import pytest

from tests.factories import InvoiceFactory, OrganizationFactory
from webhooks import services
from webhooks.models import EventType, WebhookDelivery

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "127.0.0.1", "fd00::1", "100.64.0.1"])
def test_a_name_that_resolves_to_an_internal_address_is_never_connected_to(
    address,
    settings,
    connections,
    resolver,
    frozen_clock,
    django_capture_on_commit_callbacks,
):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False  # as in production
    answers, lookups = resolver
    answers["hooks.customer.example"] = [[address]]
    organization = OrganizationFactory()
    services.endpoint_create(
        organization=organization,
        url="https://hooks.customer.example/seatbill",
        events=[EventType.INVOICE_ISSUED],
        at=AT,
    )

    with django_capture_on_commit_callbacks(execute=True):
        InvoiceFactory(organization=organization)

    delivery = WebhookDelivery.objects.get()
    assert lookups == ["hooks.customer.example"]
    assert connections == []
    assert delivery.status == "pending" and delivery.response_status is None
    assert delivery.last_error == "refused: the address is not a public https address"
    assert delivery.next_attempt_at == frozen_clock.at + dt.timedelta(minutes=1)  # retried: DNS may change


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.customer.example/seatbill",  # https only
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/hook",
        "https://user:password@hooks.customer.example/",
        "ftp://hooks.customer.example/",
        "not a url",
        "",
    ],
)
def test_an_endpoint_url_that_is_not_public_https_is_refused(url, settings, connections):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False
    with pytest.raises(services.EndpointRefused) as refused:
        services.endpoint_create(
            organization=OrganizationFactory(), url=url, events=[EventType.INVOICE_ISSUED], at=AT
        )
    assert refused.value.field == "url"
    assert connections == []


def test_loopback_http_is_refused_without_the_test_allowance(settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_HTTP = False
    with pytest.raises(services.EndpointRefused):
        services.endpoint_create(
            organization=OrganizationFactory(),
            url="http://127.0.0.1:8080/hook",
            events=[EventType.INVOICE_ISSUED],
            at=AT,
        )
