"""Celery tasks: a document's PDF and e-mail, after it is issued. Id in, fetch, call the service.

Both services are idempotent, so retries (and a task delivered twice: acks_late) are
safe: a PDF is stored once per template version and an e-mail is sent once per document.
"""

import datetime as dt

from celery import shared_task

from core import clock

from . import delivery

RETRY = {
    "autoretry_for": (Exception,),
    "dont_autoretry_for": (delivery.UnknownDocumentKind,),
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


# The PDF and the e-mail apart: outbox rows written before `invoices.document_deliver` (one row
# a document) still name these, and the relay sends such rows until they are done.
@shared_task(name="invoices.document_pdf_render", **RETRY)
def document_pdf_render_task(kind: str, document_id: int) -> int:
    document = delivery.document_get(kind=kind, document_id=document_id)
    pdf = delivery.document_pdf_render(
        document=document, template_version=delivery.CURRENT_TEMPLATE_VERSION, at=clock.now()
    )
    return pdf.pk


@shared_task(name="invoices.document_email_send", **RETRY)
def document_email_send_task(kind: str, document_id: int) -> int | None:
    return _deliver(kind, document_id)


@shared_task(name="invoices.document_deliver", **RETRY)
def document_deliver_task(kind: str, document_id: int) -> int | None:
    """What an issued document's outbox row runs: its PDF stored, then e-mailed (once each)."""
    return _deliver(kind, document_id)


def _deliver(kind: str, document_id: int) -> int | None:
    marker = delivery.document_deliver(kind, document_id)
    return marker.pk if marker else None


# How far back the sweep looks: a document older than this that still lacks its PDF or e-mail
# is an operator's case (manage.py render_documents, outbox_status), not the hourly sweep's.
SWEEP_DAYS = 30


@shared_task(name="invoices.documents_sweep", acks_late=True, ignore_result=True)
def documents_sweep_task() -> int:
    """Hourly: issued documents without a PDF or a sent e-mail get their delivery queued again."""
    since = clock.today_in("UTC") - dt.timedelta(days=SWEEP_DAYS)
    return delivery.documents_undelivered_enqueue(issued_since=since)
