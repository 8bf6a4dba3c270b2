"""Services for what follows the issue of a document: its stored PDF and its e-mail.

Both are idempotent, in layers (style.md): a guard (already stored? already sent? return
it), a database unique constraint (one PDF per document and template version, one
e-mail marker per document) and, for the e-mail, lock-then-check so that two workers
running the same task at once send once. `invoices.services` writes them to the outbox in the
issuing transaction (`delivery_enqueue`); the tasks in `invoices.tasks` call them.
"""

import hashlib
import logging
import secrets

import facturx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from core import clock
from core.site import absolute_url
from organizations import formatting as fmt
from organizations.models import Membership, Role
from outbox.relay import Work, outbox_enqueue_all, runs_rows_together

from .models import CreditNote, DocumentEmail, DocumentPdf, Invoice
from .pdf import CURRENT_TEMPLATE_VERSION, render_document, template_for
from .presentation import CREDIT_NOTE, INVOICE, document_kind, document_view

logger = logging.getLogger(__name__)

KINDS = {INVOICE: Invoice, CREDIT_NOTE: CreditNote}


class UnknownDocumentKind(ValueError):
    pass


class StoredPdfAltered(RuntimeError):
    """The stored file no longer matches the SHA-256 recorded when it was stored."""


def document_get(*, kind: str, document_id: int):
    """An issued document by kind and id, with what rendering it reads."""
    try:
        model = KINDS[kind]
    except KeyError:
        raise UnknownDocumentKind(f"{kind!r} is not one of {', '.join(KINDS)}.") from None
    queryset = model.objects.select_related("organization").prefetch_related("lines")
    if model is CreditNote:
        queryset = queryset.select_related("invoice")
    return queryset.get(pk=document_id)


def _document_filter(document) -> dict:
    return {document_kind(document): document}


def pdf_served(document) -> DocumentPdf | None:
    """The PDF shown and sent for a document: its first, made when it was issued."""
    return DocumentPdf.objects.filter(**_document_filter(document)).order_by("created_at", "id").first()


def _storage_name(document, *, template_version: str, language: str) -> str:
    # Customer code and number make a file findable by hand in the bucket; the random part
    # makes every rendering's name its own, so that a worker that lost the race for the row
    # deletes only its own file, also on storages that overwrite (S3's default).
    folder = "credit-notes" if document_kind(document) == CREDIT_NOTE else "invoices"
    code = document.organization.customer_code
    unique = secrets.token_hex(6)
    return f"documents/{code}/{folder}/{document.number}-{template_version}-{language}-{unique}.pdf"


def document_pdf_render(*, document, template_version: str, at) -> DocumentPdf:
    """Render, store and record the PDF of `document` in `template_version`, once.

    The language is the organization's (falling back to English). Rendering happens
    outside any transaction; of two racing workers, the one whose row loses the unique
    constraint deletes its file and returns the winner's row.
    """
    template_for(template_version)  # refuse unknown versions before any work
    existing = DocumentPdf.objects.filter(
        template_version=template_version, **_document_filter(document)
    ).first()
    if existing is not None:
        return existing
    language = fmt.document_language(document.organization.language)
    content = render_document(document, language=language, template_version=template_version)
    name = default_storage.save(
        _storage_name(document, template_version=template_version, language=language), ContentFile(content)
    )
    try:
        with transaction.atomic():
            return DocumentPdf.objects.create(
                organization=document.organization,
                template_version=template_version,
                language=language,
                storage_name=name,
                sha256=hashlib.sha256(content).hexdigest(),
                size_bytes=len(content),
                created_at=at,
                **_document_filter(document),
            )
    except IntegrityError:
        default_storage.delete(name)
        return DocumentPdf.objects.get(template_version=template_version, **_document_filter(document))


def document_pdf_read(pdf: DocumentPdf) -> bytes:
    """The stored bytes, checked against the SHA-256 recorded when they were stored."""
    with default_storage.open(pdf.storage_name, "rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != pdf.sha256:
        raise StoredPdfAltered(f"The stored PDF {pdf.storage_name} does not match its recorded SHA-256.")
    return content


def document_einvoice_read(pdf: DocumentPdf) -> bytes:
    """The Factur-X XML embedded in a stored PDF (checked as document_pdf_read checks it)."""
    _, xml = facturx.get_xml_from_pdf(document_pdf_read(pdf), check_xsd=False)
    if xml is None:
        raise StoredPdfAltered(f"The stored PDF {pdf.storage_name} carries no e-invoice.")
    return xml


def billing_recipients(organization) -> list[str]:
    """Where an organization's documents go (and their receipts, payments.receipts)."""
    return _recipients(organization)


def _recipients(organization) -> list[str]:
    """The billing e-mail; without one, the owners, so that an invoice always reaches someone."""
    if organization.billing_email:
        return [organization.billing_email]
    owners = (
        Membership.objects.filter(organization=organization, role=Role.OWNER, removed_at__isnull=True)
        .select_related("user")
        .order_by("joined_at", "id")
    )
    return [m.user.email for m in owners if m.user.email]


def _email_message(
    document, pdf: DocumentPdf, content: bytes, recipients: list[str]
) -> EmailMultiAlternatives:
    view = document_view(document, pdf.language)
    context = {
        "doc": view,
        "organization": document.organization,
        "invoices_url": absolute_url(reverse("invoice_list", kwargs={"slug": document.organization.slug})),
    }
    with translation.override(view.language):
        subject = render_to_string("emails/invoices/document_issued_subject.txt", context).strip()
        body = render_to_string("emails/invoices/document_issued.txt", context)
        html = render_to_string("emails/invoices/document_issued.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Seatbill-Document": document.number},
    )
    message.attach_alternative(html, "text/html")
    message.attach(f"{document.number}.pdf", content, "application/pdf")
    return message


def document_email_send(*, document, at) -> DocumentEmail | None:
    """E-mail `document` with its PDF attached to the organization's billing address, once ever.

    Lock-then-check: the served PDF's row is locked, then the marker is looked for; the
    marker is written before the message goes out, in the same transaction, so a failed
    send rolls the marker back and the task's retry sends again, while a second worker
    waits on the lock and then finds the marker. (A crash between the SMTP server's
    acceptance and the commit is the one case that could send twice.)
    """
    pdf = pdf_served(document) or document_pdf_render(
        document=document, template_version=CURRENT_TEMPLATE_VERSION, at=at
    )
    content = document_pdf_read(pdf)
    with transaction.atomic():
        DocumentPdf.objects.select_for_update().get(pk=pdf.pk)
        sent = DocumentEmail.objects.filter(**_document_filter(document)).first()
        if sent is not None:
            return sent
        recipients = _recipients(document.organization)
        if not recipients:
            logger.warning(
                "Document %s not e-mailed: the organization has no billing e-mail.", document.number
            )
            return None
        marker = DocumentEmail.objects.create(
            organization=document.organization,
            pdf=pdf,
            recipients=", ".join(recipients),
            language=pdf.language,
            sent_at=at,
            **_document_filter(document),
        )
        _email_message(document, pdf, content, recipients).send(fail_silently=False)
        return marker


@runs_rows_together("invoices.document_deliver")
def document_deliver(kind: str, document_id: int) -> DocumentEmail | None:
    """An issued document's delivery: its PDF stored, then e-mailed (each once). What its
    outbox row runs, alone as the `invoices.document_deliver` task or with others of a
    renewal batch in one message."""
    return document_email_send(document=document_get(kind=kind, document_id=document_id), at=clock.now())


def delivery_enqueue(*, kind: str, document_id: int) -> None:
    """In the issuing transaction: the document's delivery as one outbox row (outbox.relay),
    sent once it commits. Its task stores the PDF, then e-mails it (`document_email_send`
    renders the PDF first when it is not stored; a document nobody can receive still gets
    its PDF). One message a document, not one for the PDF and one for the e-mail: the
    renewal run publishes a message per invoice it issues (bench/renewals.py). Each step is
    idempotent, so a retry after a mail server outage sends the e-mail and renders nothing
    again. Keyed by the document: writing it twice is once."""
    outbox_enqueue_all(
        [
            Work(
                task_name="invoices.document_deliver",
                key=f"{kind}:{document_id}:delivery",
                args=(kind, document_id),
            )
        ]
    )


def documents_undelivered_enqueue(*, issued_since) -> int:
    """The sweep: documents issued on or after `issued_since` without a stored PDF or a sent
    e-mail get their delivery written to the outbox again, under the same keys as at their
    issue: a document whose rows exist (sent, waiting, or done without an e-mail because no
    one could receive it) is left to them, so sweeping twice is once. Returns how many
    documents it looked at."""
    count = 0
    for model, kind in ((Invoice, INVOICE), (CreditNote, CREDIT_NOTE)):
        undelivered = model.objects.filter(issued_on__gte=issued_since).filter(
            Q(pdfs__isnull=True) | Q(email__isnull=True)
        )
        for document_id in undelivered.values_list("pk", flat=True).distinct().iterator(chunk_size=500):
            delivery_enqueue(kind=kind, document_id=document_id)
            count += 1
    return count
