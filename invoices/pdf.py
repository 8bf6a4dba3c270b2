"""Rendering an issued document to PDF bytes with WeasyPrint, from a versioned template.

Each template version lives in its own directory, templates/invoices/pdf/<version>/, and
is frozen once documents were issued with it: a stored PDF is never rendered again, and a
layout change is a new version (`manage.py render_documents --template-version v2`
renders it beside the old one). Fonts are DejaVu from the system (fonts-dejavu-core),
and the documents carry no images, which keeps a page at a few tens of milliseconds.
From v4 on, a PDF is a PDF/A-3b carrying the document's EN 16931 XML (invoices.einvoice)
as factur-x.xml, the Factur-X profile EN 16931.
"""

import logging
from functools import lru_cache

from django.template.loader import render_to_string
from django.utils import translation

from .einvoice import FACTURX_FLAVOR, FACTURX_LEVEL, einvoice_xml
from .presentation import DocumentView, document_view

# WeasyPrint reports each rendering step at INFO: seven lines per PDF in a worker's log;
# factur-x three more for the XML it checks and attaches.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
logging.getLogger("factur-x").setLevel(logging.WARNING)

TEMPLATE_VERSIONS = {
    "v1": "invoices/pdf/v1/document.html",
    "v2": "invoices/pdf/v2/document.html",  # an invoice with nothing to pay asks for no transfer
    "v3": "invoices/pdf/v3/document.html",  # how the customer's VAT ID was checked (issue 22)
    # v3's layout as a PDF/A-3b with its EN 16931 XML embedded (Factur-X, issue 22): the
    # page is unchanged, the file is not, so PDFs stored as v3 stay what they were.
    "v4": "invoices/pdf/v3/document.html",
    # The VAT in the seller country's currency, with the ECB rate and its date (art. 230).
    "v5": "invoices/pdf/v5/document.html",
}
EINVOICE_TEMPLATE_VERSIONS = frozenset({"v4", "v5"})
CURRENT_TEMPLATE_VERSION = "v5"


class UnknownTemplateVersion(ValueError):
    pass


def template_for(version: str) -> str:
    try:
        return TEMPLATE_VERSIONS[version]
    except KeyError:
        known = ", ".join(sorted(TEMPLATE_VERSIONS))
        raise UnknownTemplateVersion(f"No PDF template version {version!r}; known: {known}.") from None


@lru_cache(maxsize=1)
def _font_config():
    # One FontConfiguration per process: building it scans fontconfig, which costs more
    # than rendering a page.
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def render_html(view: DocumentView, *, template_version: str) -> str:
    with translation.override(view.language):
        return render_to_string(template_for(template_version), {"doc": view})


def has_einvoice(template_version: str) -> bool:
    """Whether PDFs of `template_version` carry the Factur-X XML."""
    return template_version in EINVOICE_TEMPLATE_VERSIONS


def render_view(view: DocumentView, *, template_version: str, einvoice: bytes | None = None) -> bytes:
    """The PDF of `view`; with `einvoice` (versions that carry one), a PDF/A-3b embedding that XML."""
    from weasyprint import HTML

    html = render_html(view, template_version=template_version)
    if einvoice is None:
        return HTML(string=html, base_url=None).write_pdf(font_config=_font_config())
    import facturx

    pdf = HTML(string=html, base_url=None).write_pdf(font_config=_font_config(), pdf_variant="pdf/a-3b")
    # generate_from_binary checks the XML against the Factur-X EN 16931 XSD before attaching it.
    return facturx.generate_from_binary(
        pdf, einvoice, flavor=FACTURX_FLAVOR, level=FACTURX_LEVEL, check_xsd=True, lang=view.language
    )


def render_document(document, *, language: str, template_version: str = CURRENT_TEMPLATE_VERSION) -> bytes:
    """The PDF of `document` (Invoice or CreditNote, lines prefetched or not) in `language`."""
    view = document_view(document, language)
    einvoice = einvoice_xml(document, view.language) if has_einvoice(template_version) else None
    return render_view(view, template_version=template_version, einvoice=einvoice)
