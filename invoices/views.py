"""Hosted pages of invoices and credit notes: parse, authorize (org_view), call a selector, render.

Finance and owners only (Capability.VIEW_INVOICES): other members get 403, people outside
the organization 404, the PDF URL included.
"""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from core import clock
from organizations.tenancy import Capability
from organizations.views_base import org_view

from . import selectors
from .delivery import document_einvoice_read, document_pdf_read
from .forms import DocumentFilterForm
from .presentation import CREDIT_NOTE, INVOICE


@org_view(Capability.VIEW_INVOICES)
@require_GET
def invoice_list(request, slug: str):
    organization = request.organization
    form = DocumentFilterForm(request.GET or None, years=selectors.document_years(organization=organization))
    listing = selectors.document_list_page(
        organization=organization,
        language=get_language(),
        page_number=request.GET.get("page"),
        on=clock.today_in(organization.time_zone, at=clock.now()),
        **form.filters(),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "invoices/list.html",
        {"listing": listing, "form": form, "filter_query": query.urlencode()},
    )


def _detail(request, kind: str, number: str):
    # The hosted document reads as its PDF and e-mail do: in the organization's language
    # (Settings), whatever the reader's own language is for the rest of the page.
    detail = selectors.document_detail(
        organization=request.organization,
        kind=kind,
        number=number,
        language=request.organization.language,
        on=clock.today_in(request.organization.time_zone, at=clock.now()),
    )
    return render(request, "invoices/detail.html", {"detail": detail, "doc": detail.view})


@org_view(Capability.VIEW_INVOICES)
@require_GET
def invoice_detail(request, slug: str, number: str):
    return _detail(request, INVOICE, number)


@org_view(Capability.VIEW_INVOICES)
@require_GET
def credit_note_detail(request, slug: str, number: str):
    return _detail(request, CREDIT_NOTE, number)


@org_view(Capability.VIEW_INVOICES)
@require_GET
def invoice_pdf_download(request, slug: str, token: str):
    """The stored PDF as it was issued, as an attachment named after the document's number."""
    pdf = selectors.document_pdf_by_token(organization=request.organization, token=token)
    content = document_pdf_read(pdf)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"{pdf.document.number}.pdf")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@org_view(Capability.VIEW_INVOICES)
@require_GET
def invoice_xml_download(request, slug: str, token: str):
    """The Factur-X XML embedded in a stored PDF, as an attachment: the e-invoice's own file."""
    pdf = selectors.document_pdf_by_token(organization=request.organization, token=token, with_einvoice=True)
    content = document_einvoice_read(pdf)
    response = HttpResponse(content, content_type="application/xml")
    response["Content-Disposition"] = content_disposition_header(True, f"{pdf.document.number}.xml")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
