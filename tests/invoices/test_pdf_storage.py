"""Stored PDFs: rendered after the issue commits, stored once per template version with their
SHA-256, never rewritten (a new version is rendered beside the old one), rows frozen by triggers."""

import hashlib
import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import DatabaseError, transaction

from invoices import delivery, pdf
from invoices.models import CreditNote, DocumentEmail, DocumentPdf, Invoice
from seats.simulation import run_scenario
from tests.conftest import at_noon
from tests.scenarios import PUBLIC

from .conftest import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(play):
    organization = play("03-team-monthly-add-remove")
    return Invoice.objects.filter(organization=organization, reason="subscription_create").get()


def _render(document, version="v1"):
    return delivery.document_pdf_render(
        document=document, template_version=version, at=at_noon(document.issued_on)
    )


def test_the_pdf_is_stored_with_its_sha256_and_a_random_token(invoice):
    stored = _render(invoice)
    with default_storage.open(stored.storage_name, "rb") as handle:
        content = handle.read()
    assert content.startswith(b"%PDF-")
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.size_bytes == len(content)
    assert (stored.organization_id, stored.invoice_id, stored.template_version) == (
        invoice.organization_id,
        invoice.pk,
        "v1",
    )
    assert len(stored.access_token) >= 43
    assert stored.language == "en"


def test_rendering_again_changes_nothing_stored(invoice, settings):
    first = _render(invoice)
    with default_storage.open(first.storage_name, "rb") as handle:
        before = handle.read()
    # Even with the organization's language changed since, the stored document stays as issued.
    invoice.organization.language = "de"
    invoice.organization.save(update_fields=["language"])
    invoice = delivery.document_get(kind="invoice", document_id=invoice.pk)
    again = _render(invoice)
    call_command("render_documents", "--template-version", "v1", stdout=io.StringIO())

    assert again.pk == first.pk
    assert DocumentPdf.objects.filter(invoice=invoice).count() == 1
    with default_storage.open(first.storage_name, "rb") as handle:
        assert handle.read() == before
    assert delivery.document_pdf_read(first) == before


def test_a_new_template_version_is_rendered_beside_the_old_one(invoice):
    first = _render(invoice)
    original = delivery.document_pdf_read(first)
    invoice.organization.language = "da"
    invoice.organization.save(update_fields=["language"])

    call_command("render_documents", "--template-version", "v2", stdout=io.StringIO())
    call_command("render_documents", "--template-version", "v2", stdout=io.StringIO())

    versions = DocumentPdf.objects.filter(invoice=invoice).order_by("created_at", "id")
    assert [(p.template_version, p.language) for p in versions] == [("v1", "en"), ("v2", "da")]
    assert versions[1].storage_name != first.storage_name
    assert delivery.document_pdf_read(first) == original
    assert delivery.pdf_served(invoice) == first  # the PDF made at the issue stays the one served
    organization = invoice.organization
    documents = (
        Invoice.objects.filter(organization=organization).count()
        + CreditNote.objects.filter(organization=organization).count()
    )
    assert DocumentPdf.objects.filter(organization=organization, template_version="v2").count() == documents


def test_an_unknown_template_version_is_refused(invoice):
    with pytest.raises(pdf.UnknownTemplateVersion):
        _render(invoice, version="v9")
    assert not DocumentPdf.objects.exists()


def test_a_stored_pdf_row_never_changes(invoice):
    stored = _render(invoice)
    with pytest.raises(DatabaseError), transaction.atomic():
        DocumentPdf.objects.filter(pk=stored.pk).update(sha256="0" * 64)
    with pytest.raises(DatabaseError), transaction.atomic():
        DocumentPdf.objects.filter(pk=stored.pk).delete()
    stored.refresh_from_db()
    assert stored.sha256 == hashlib.sha256(delivery.document_pdf_read(stored)).hexdigest()


def test_a_tampered_file_is_not_served(invoice):
    stored = _render(invoice)
    default_storage.delete(stored.storage_name)
    default_storage.save(stored.storage_name, io.BytesIO(b"%PDF-1.7 forged"))
    with pytest.raises(delivery.StoredPdfAltered):
        delivery.document_pdf_read(stored)


def test_the_issue_enqueues_the_pdf_and_the_email_after_commit(
    play, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        organization = play("03-team-monthly-add-remove")
    documents = list(Invoice.objects.filter(organization=organization)) + list(
        CreditNote.objects.filter(organization=organization)
    )
    assert len(callbacks) == len(documents) == 4
    assert DocumentPdf.objects.filter(organization=organization).count() == 4
    assert DocumentEmail.objects.filter(organization=organization).count() == 4
    assert sorted(m.attachments[0][0] for m in mailoutbox) == sorted(f"{d.number}.pdf" for d in documents)


def test_a_rolled_back_issue_renders_nothing(play, django_capture_on_commit_callbacks):
    scenario = json.loads((PUBLIC / "03-team-monthly-add-remove.json").read_text())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_scenario(scenario, keep=False)
    assert callbacks == []
    assert not DocumentPdf.objects.exists()


def test_a_swedish_organization_gets_its_documents_in_english(invoice):
    invoice.organization.language = "sv"
    invoice.organization.save(update_fields=["language"])
    invoice = delivery.document_get(kind="invoice", document_id=invoice.pk)
    stored = _render(invoice)
    assert stored.language == "en"
    assert "Invoice number" in pdf_text(delivery.document_pdf_read(stored))


def test_the_worker_that_loses_the_race_keeps_the_winners_pdf_and_deletes_its_own_file(
    invoice, monkeypatch, media_root
):
    real_render = delivery.render_document
    winner = {}

    def render_while_another_worker_stores(document, *, language, template_version):
        content = real_render(document, language=language, template_version=template_version)
        with transaction.atomic():  # the other worker, done first
            winner["pdf"] = DocumentPdf.objects.create(
                organization=invoice.organization,
                invoice=invoice,
                template_version=template_version,
                language="en",
                storage_name=default_storage.save("documents/winner.pdf", io.BytesIO(content)),
                sha256=hashlib.sha256(content).hexdigest(),
                size_bytes=len(content),
                created_at=invoice.created_at,
            )
        return content

    monkeypatch.setattr(delivery, "render_document", render_while_another_worker_stores)
    assert _render(invoice) == winner["pdf"]
    stored_files = sorted(p.name for p in media_root.rglob("*.pdf"))
    assert stored_files == ["winner.pdf"]
