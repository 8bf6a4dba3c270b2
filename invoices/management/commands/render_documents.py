"""`manage.py render_documents --template-version vN`: render a template version beside the old.

Every issued invoice and credit note (or one organization's) gets a stored PDF in that
version, unless it has one already; nothing stored is ever rendered again or replaced,
and the document's first PDF stays the one that is served. With the current version it
also catches up documents whose after-commit rendering never ran (a broker outage).
"""

from django.core.management.base import BaseCommand, CommandError

from core import clock
from invoices import delivery
from invoices.models import CreditNote, DocumentPdf, Invoice
from invoices.pdf import TEMPLATE_VERSIONS, UnknownTemplateVersion, template_for


class Command(BaseCommand):
    help = "Render and store the PDFs of issued documents in a template version, beside those stored."

    def add_arguments(self, parser):
        parser.add_argument(
            "--template-version", required=True, help=f"One of {', '.join(TEMPLATE_VERSIONS)}."
        )
        parser.add_argument("--organization", help="Only this organization (its slug).")

    def handle(self, *args, template_version: str, organization: str | None, **options):
        try:
            template_for(template_version)
        except UnknownTemplateVersion as error:
            raise CommandError(str(error)) from None
        scope = {"organization__slug": organization} if organization else {}
        created = kept = 0
        for model in (Invoice, CreditNote):
            queryset = model.objects.filter(**scope).select_related("organization").prefetch_related("lines")
            if model is CreditNote:
                queryset = queryset.select_related("invoice")
            for document in queryset.order_by("id").iterator(chunk_size=200):
                before = DocumentPdf.objects.filter(
                    template_version=template_version, **{delivery.document_kind(document): document}
                ).exists()
                delivery.document_pdf_render(
                    document=document, template_version=template_version, at=clock.now()
                )
                if before:
                    kept += 1
                else:
                    created += 1
                    self.stdout.write(f"{document.number}: rendered {template_version}")
        self.stdout.write(
            self.style.SUCCESS(f"{created} rendered, {kept} already stored in {template_version}.")
        )
