"""Rendering an issued document to PDF bytes with WeasyPrint, from a versioned template.

Each template version lives in its own directory, templates/invoices/pdf/<version>/, and
is frozen once documents were issued with it: a stored PDF is never rendered again, and a
layout change is a new version (`manage.py render_documents --template-version v2`
renders it beside the old one). Fonts are DejaVu from the system (fonts-dejavu-core),
and the documents carry no images, which keeps a page at a few tens of milliseconds.
"""

import logging
from functools import lru_cache

from django.template.loader import render_to_string
from django.utils import translation

from .presentation import DocumentView, document_view

# WeasyPrint reports each rendering step at INFO: seven lines per PDF in a worker's log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

TEMPLATE_VERSIONS = {
    "v1": "invoices/pdf/v1/document.html",
    "v2": "invoices/pdf/v2/document.html",  # an invoice with nothing to pay asks for no transfer
    "v3": "invoices/pdf/v3/document.html",  # how the customer's VAT ID was checked (issue 22)
}
CURRENT_TEMPLATE_VERSION = "v3"


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


def render_view(view: DocumentView, *, template_version: str) -> bytes:
    from weasyprint import HTML

    html = render_html(view, template_version=template_version)
    return HTML(string=html, base_url=None).write_pdf(font_config=_font_config())


def render_document(document, *, language: str, template_version: str = CURRENT_TEMPLATE_VERSION) -> bytes:
    """The PDF of `document` (Invoice or CreditNote, lines prefetched or not) in `language`."""
    return render_view(document_view(document, language), template_version=template_version)
