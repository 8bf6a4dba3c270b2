"""Organization-scoped reads of issued documents, for the hosted pages and the dashboard.

Every query starts from the organization of the request, so a document of another
organization is simply not found (404), whatever id, number or token is in the URL.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.http import Http404

from organizations import formatting as fmt
from organizations.models import Organization

from .models import CreditNote, DocumentPdf, Invoice
from .pdf import EINVOICE_TEMPLATE_VERSIONS, has_einvoice
from .presentation import (
    CREDIT_NOTE,
    INVOICE,
    DocumentView,
    document_view,
    due_text,
    is_overdue,
    status_label,
    type_label,
)

PAGE_SIZE = 25


def _served_token(document_field: str) -> Subquery:
    return Subquery(
        DocumentPdf.objects.filter(**{document_field: OuterRef("pk")})
        .order_by("created_at", "id")
        .values("access_token")[:1],
        output_field=CharField(),
    )


def document_rows(
    *, organization: Organization, year: int | None = None, kind: str = "", status: str = ""
) -> QuerySet:
    """Invoices and credit notes of `organization` as one queryset of dicts, newest first.

    Keys: kind, id, number, issued_on, currency, total_minor, amount_due_minor (None for a
    credit note), status ("" for a credit note, so a status filter leaves them out), pdf_token.
    """
    invoices = Invoice.objects.filter(organization=organization)
    notes = CreditNote.objects.filter(organization=organization)
    if year:
        invoices = invoices.filter(issued_on__year=year)
        notes = notes.filter(issued_on__year=year)
    if status:
        invoices = invoices.filter(status=status)
        notes = notes.none()
    parts = []
    if kind in ("", INVOICE):
        parts.append(
            invoices.values(
                doc_kind=Value(INVOICE, output_field=CharField()),
                doc_id=F("id"),
                doc_number=F("number"),
                doc_issued_on=F("issued_on"),
                doc_currency=F("currency"),
                doc_total_minor=F("total_minor"),
                doc_amount_due_minor=F("amount_due_minor"),
                doc_status=F("status"),
                doc_due_on=F("due_on"),
                doc_due_on_receipt=F("due_on_receipt"),
                doc_pdf_token=_served_token("invoice"),
            )
        )
    if kind in ("", CREDIT_NOTE):
        parts.append(
            notes.values(
                doc_kind=Value(CREDIT_NOTE, output_field=CharField()),
                doc_id=F("id"),
                doc_number=F("number"),
                doc_issued_on=F("issued_on"),
                doc_currency=F("currency"),
                doc_total_minor=F("total_minor"),
                doc_amount_due_minor=Value(None, output_field=BigIntegerField()),
                doc_status=Value("", output_field=CharField()),
                doc_due_on=Value(None, output_field=DateField()),
                doc_due_on_receipt=Value(False, output_field=BooleanField()),
                doc_pdf_token=_served_token("credit_note"),
            )
        )
    if not parts:
        return Invoice.objects.none().values()
    # Each part without its model's default ordering: SQLite refuses ORDER BY inside a UNION.
    parts = [part.order_by() for part in parts]
    rows = parts[0] if len(parts) == 1 else parts[0].union(parts[1], all=True)
    return rows.order_by("-doc_issued_on", "-doc_number")


def document_years(*, organization: Organization) -> list[int]:
    years = {d.year for d in Invoice.objects.filter(organization=organization).dates("issued_on", "year")}
    years |= {d.year for d in CreditNote.objects.filter(organization=organization).dates("issued_on", "year")}
    return sorted(years, reverse=True)


@dataclass(frozen=True)
class DocumentRow:
    kind: str
    type_label: str
    number: str
    issued_on: str
    amount: str
    amount_due: str
    status: str
    status_label: str
    pdf_token: str | None
    due: str = ""  # "17 Mar 2026" or "Due on receipt"; "" for a credit note
    overdue: bool = False  # open past its due date


@dataclass(frozen=True)
class DocumentListPage:
    rows: list[DocumentRow]
    page: Page
    years: list[int]


def document_list_page(
    *,
    organization: Organization,
    language: str,
    page_number,
    year: int | None = None,
    kind: str = "",
    status: str = "",
    on: dt.date | None = None,
) -> DocumentListPage:
    """One page of the documents list: rows formatted in the reader's language; an open
    invoice whose due date is before `on` (the organization's today) reads overdue."""
    queryset = document_rows(organization=organization, year=year, kind=kind, status=status)
    page = Paginator(queryset, PAGE_SIZE).get_page(page_number)
    rows = []
    for row in page.object_list:
        is_note = row["doc_kind"] == CREDIT_NOTE
        total = -row["doc_total_minor"] if is_note else row["doc_total_minor"]
        due = row["doc_amount_due_minor"]
        rows.append(
            DocumentRow(
                kind=row["doc_kind"],
                type_label=type_label(row["doc_kind"], language),
                number=row["doc_number"],
                issued_on=fmt.date(row["doc_issued_on"], language),
                amount=fmt.money(total, row["doc_currency"], language),
                amount_due="" if due is None else fmt.money(due, row["doc_currency"], language),
                status=row["doc_status"],
                status_label=status_label(row["doc_status"], language) if row["doc_status"] else "",
                pdf_token=row["doc_pdf_token"],
                due=due_text(row["doc_due_on"], row["doc_due_on_receipt"], language) if not is_note else "",
                overdue=is_overdue(status=row["doc_status"], due_on=row["doc_due_on"], on=on),
            )
        )
    return DocumentListPage(rows=rows, page=page, years=document_years(organization=organization))


@dataclass(frozen=True)
class DocumentDetail:
    view: DocumentView
    kind: str
    number: str
    status: str
    pdf: DocumentPdf | None
    other_pdfs: list[DocumentPdf]
    credit_notes: list[tuple[str, str]]  # (number, issue date) of the notes correcting an invoice
    overdue: bool = False
    # The first stored PDF that carries the Factur-X XML, whose XML the page offers.
    einvoice_pdf: DocumentPdf | None = None


def document_get_for_organization(*, organization: Organization, kind: str, number: str):
    model = Invoice if kind == INVOICE else CreditNote
    queryset = model.objects.filter(organization=organization).prefetch_related("lines")
    if model is CreditNote:
        queryset = queryset.select_related("invoice")
    document = queryset.filter(number=number).first()
    if document is None:
        raise Http404("No such document.")
    return document


def document_detail(
    *, organization: Organization, kind: str, number: str, language: str, on: dt.date | None = None
) -> DocumentDetail:
    document = document_get_for_organization(organization=organization, kind=kind, number=number)
    pdfs = list(DocumentPdf.objects.filter(**{kind: document}).order_by("created_at", "id"))
    notes = []
    if kind == INVOICE:
        notes = [
            (note.number, fmt.date(note.issued_on, language))
            for note in document.credit_notes.order_by("issued_on", "sequence")
        ]
    return DocumentDetail(
        view=document_view(document, language),
        kind=kind,
        number=document.number,
        status=getattr(document, "status", ""),
        pdf=pdfs[0] if pdfs else None,
        other_pdfs=pdfs[1:],
        einvoice_pdf=next((pdf for pdf in pdfs if has_einvoice(pdf.template_version)), None),
        credit_notes=notes,
        overdue=is_overdue(
            status=getattr(document, "status", ""), due_on=getattr(document, "due_on", None), on=on
        ),
    )


def document_pdf_by_token(
    *, organization: Organization, token: str, with_einvoice: bool = False
) -> DocumentPdf:
    """The stored PDF behind a download URL, only within the URL's organization; else 404.

    `with_einvoice`: only a PDF of a template version that carries the Factur-X XML."""
    queryset = DocumentPdf.objects.filter(organization=organization, access_token=token)
    if with_einvoice:
        queryset = queryset.filter(template_version__in=EINVOICE_TEMPLATE_VERSIONS)
    pdf = queryset.select_related("invoice", "credit_note").first()
    if pdf is None:
        raise Http404("No such document.")
    return pdf
