"""Issue 22, item 6: every link in every e-mail starts with the site's configured address
(settings.SITE_URL, through core.site), never with the address of the request that set the
e-mail off nor a development server's port."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from invoices.models import Invoice
from invoices.tasks import document_email_send_task, document_pdf_render_task
from organizations import services as org_services
from organizations.models import Organization, Role
from seats.identity import waiting
from seats.simulation import run_scenario
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.scenarios import PUBLIC

ROOT = Path(__file__).resolve().parents[1]
SITE = "https://billing.example.test"
NOW = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)
LINK = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture(autouse=True)
def site(settings, tmp_path):
    settings.SITE_URL = SITE + "/"  # a trailing slash in the setting changes nothing
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _links(message) -> list[str]:
    texts = [message.body] + [content for content, _type in getattr(message, "alternatives", [])]
    return [link for text in texts for link in LINK.findall(text)]


def _assert_every_link_is_the_sites(messages):
    links = [link for message in messages for link in _links(message)]
    assert links, "the e-mails carry links"
    assert [link for link in links if not link.startswith(SITE + "/")] == []


@pytest.mark.django_db
def test_an_invitation_links_to_the_site(django_capture_on_commit_callbacks):
    organization = OrganizationFactory()
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        org_services.invitation_create(
            organization=organization,
            email="new@example.com",
            role=Role.MEMBER,
            at=NOW,
            invited_by=owner.user,
        )
    (message,) = [m for m in mail.outbox if "new@example.com" in m.to]
    _assert_every_link_is_the_sites([message])
    assert f"{SITE}/invitations/" in message.body


@pytest.mark.django_db
def test_the_password_reset_link_is_the_sites(client):
    user = UserFactory(email="reset@example.com", username="reset@example.com")
    client.post(reverse("password_reset"), {"email": user.email}, HTTP_HOST="localhost:8000")
    (message,) = mail.outbox
    _assert_every_link_is_the_sites([message])


@pytest.mark.django_db
def test_the_invoice_email_links_to_the_sites_invoice_list():
    result = run_scenario(json.loads((PUBLIC / "03-team-monthly-add-remove.json").read_text()), keep=True)
    organization = Organization.objects.get(pk=result["organization_id"])
    invoice = Invoice.objects.filter(organization=organization).first()
    document_pdf_render_task.delay("invoice", invoice.pk)
    document_email_send_task.delay("invoice", invoice.pk)
    (message,) = [m for m in mail.outbox if invoice.number in m.subject]
    _assert_every_link_is_the_sites([message])
    assert f"{SITE}/o/{organization.slug}/invoices/" in message.body


@pytest.mark.django_db
def test_the_waiting_list_links_to_the_site(django_capture_on_commit_callbacks):
    organization = OrganizationFactory()
    assert waiting.waiting_url(organization=organization) == f"{SITE}/o/{organization.slug}/seats/waiting/"
    with django_capture_on_commit_callbacks(execute=True):
        waiting._tell_admitted(organization=organization, email="waiter@example.com")
    _assert_every_link_is_the_sites([m for m in mail.outbox if "waiter@example.com" in m.to])


def test_no_email_template_or_module_builds_a_link_of_its_own():
    """Templates of e-mails use the links they are given; no module falls back to a port."""
    templates = [
        path
        for path in (ROOT / "templates").rglob("*")
        if path.is_file() and ("email" in str(path.relative_to(ROOT)) or "mail" in path.name)
    ]
    assert len(templates) > 20
    own_links = [
        str(path.relative_to(ROOT))
        for path in templates
        if re.search(r"https?://|\{\{ *(protocol|domain) *\}\}", path.read_text())
    ]
    assert own_links == []
    fallbacks = [
        str(path.relative_to(ROOT))
        for folder in (
            "core",
            "organizations",
            "invoices",
            "billing",
            "seats",
            "usage",
            "payments",
            "partners",
        )
        for path in (ROOT / folder).rglob("*.py")
        if "127.0.0.1:8000" in path.read_text() or 'build_absolute_uri("/")' in path.read_text()
    ]
    assert fallbacks == []


def test_services_take_no_base_url_any_more():
    assert "base_url" not in org_services.invitation_create.__code__.co_varnames
