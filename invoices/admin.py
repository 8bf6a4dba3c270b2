from django.contrib import admin

from .models import (
    CreditBalanceEntry,
    CreditNote,
    CreditNoteLine,
    DocumentEmail,
    DocumentPdf,
    ExchangeRate,
    Invoice,
    InvoiceLine,
)


class ReadOnlyMixin:
    """Issued documents never change: the admin shows them, nothing more."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class InvoiceLineInline(ReadOnlyMixin, admin.TabularInline):
    model = InvoiceLine
    extra = 0


class CreditNoteLineInline(ReadOnlyMixin, admin.TabularInline):
    model = CreditNoteLine
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "organization",
        "issued_on",
        "reason",
        "total_minor",
        "amount_due_minor",
        "status",
    )
    list_filter = ("status", "reason", "organization")
    search_fields = ("number", "organization__name")
    inlines = [InvoiceLineInline]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("number", "invoice", "organization", "issued_on", "total_minor")
    list_filter = ("organization",)
    search_fields = ("number", "invoice__number")
    inlines = [CreditNoteLineInline]


@admin.register(CreditBalanceEntry)
class CreditBalanceEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("organization", "effective_on", "kind", "amount_minor", "currency")
    list_filter = ("kind", "organization")


@admin.register(DocumentPdf)
class DocumentPdfAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Stored PDFs; a new layout is rendered beside them with `manage.py render_documents`."""

    list_display = ("__str__", "organization", "template_version", "language", "sha256", "created_at")
    list_filter = ("template_version", "language", "organization")
    search_fields = ("invoice__number", "credit_note__number", "sha256")
    exclude = ("access_token",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "access_token"]


@admin.register(DocumentEmail)
class DocumentEmailAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("__str__", "organization", "language", "sent_at")
    list_filter = ("organization",)
    search_fields = ("invoice__number", "credit_note__number", "recipients")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The ECB rates loaded (`manage.py exchange_rates_import FILE`): the latest date of a
    currency shows whether invoices issued today find their art. 230 rate."""

    list_display = ("rate_on", "currency", "rate", "source", "imported_at")
    list_filter = ("currency", "source")
    date_hierarchy = "rate_on"
