"""Issued documents: invoices, credit notes, their lines, numbering and the credit balance.

An issued document never changes: there is no update path in the code, and database
triggers (migration 0002) refuse updates of the money, number and dates of a document,
any update or delete of its lines, and any delete of a document.
"""

import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from organizations.models import Organization


class Reason(models.TextChoices):
    SUBSCRIPTION_CREATE = "subscription_create", "New subscription"
    SUBSCRIPTION_CYCLE = "subscription_cycle", "Renewal"
    SEAT_CHANGE = "seat_change", "Seat change"
    PLAN_CHANGE = "plan_change", "Plan change"


class TaxKind(models.TextChoices):
    STANDARD = "standard", "Standard rate"
    REVERSE_CHARGE = "reverse_charge", "Reverse charge"
    OUTSIDE_SCOPE = "outside_scope", "Outside the scope of EU VAT"


class DocumentSequence(models.Model):
    """The customer's invoice counter; its row lock serializes every document of one customer."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    last_invoice_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization.customer_code}: {self.last_invoice_number}"


class DocumentFields(models.Model):
    """What invoices and credit notes share: customer and seller as they were on the issue date."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=32, unique=True)
    issued_on = models.DateField()
    currency = models.CharField(max_length=3)
    subtotal_minor = models.BigIntegerField()
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent.")
    tax_kind = models.CharField(max_length=16, choices=TaxKind.choices)
    tax_minor = models.BigIntegerField()
    total_minor = models.BigIntegerField()
    customer_name = models.CharField(max_length=200)
    customer_address = models.TextField(blank=True)
    customer_country = models.CharField(max_length=2)
    customer_vat_id = models.CharField(max_length=32, blank=True)
    # The customer's VAT ID check when issued (core.vies): format_valid, verified or empty.
    customer_vat_id_check = models.CharField(max_length=16, blank=True, default="")
    customer_vat_id_checked_on = models.DateField(null=True, blank=True)
    seller_name = models.CharField(max_length=200)
    seller_address = models.TextField(blank=True)
    seller_country = models.CharField(max_length=2)
    seller_vat_id = models.CharField(max_length=32, blank=True)
    # VAT directive art. 230: where VAT is charged in another currency than the seller
    # country's own, the VAT in that national currency, at the ECB rate used (invoices.
    # exchange_rates; docs/billing.md "VAT in the national currency"). Empty otherwise.
    vat_national_currency = models.CharField(max_length=3, blank=True, default="")
    vat_national_rate = models.DecimalField(
        max_digits=20,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Units of the national currency per unit of the document's currency.",
    )
    vat_national_rate_on = models.DateField(null=True, blank=True, help_text="The ECB rate's date.")
    vat_national_minor = models.BigIntegerField(
        null=True, blank=True, help_text="tax_minor × rate, rounded half up once, national minor units."
    )
    created_at = models.DateTimeField()

    class Meta:
        abstract = True


class Invoice(DocumentFields):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")
        UNCOLLECTIBLE = "uncollectible", _("Uncollectible")

    serviced_organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Whose service the lines are for: the payer itself, or the client a partner pays for.",
    )
    sequence = models.PositiveIntegerField(help_text="NNNN in PREFIX-NNNN, gap-free per customer.")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    period_start = models.DateField(help_text="The billing period this invoice covers, from.")
    period_end = models.DateField(help_text="... to (exclusive).")
    credit_applied_minor = models.BigIntegerField(default=0)
    amount_due_minor = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Set at issue: issued_on + the organization's payment terms, or issued_on and
    # due_on_receipt when its card is charged at issue. Empty on invoices issued before.
    due_on = models.DateField(null=True, blank=True)
    due_on_receipt = models.BooleanField(default=False)

    class Meta:
        ordering = ["-issued_on", "-sequence"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="invoice_sequence_unique"),
            # A scheduled invoice is issued once per subscription, reason and day:
            # billing.SubscriptionInvoice holds the link and the constraint.
            models.CheckConstraint(
                condition=Q(total_minor=models.F("subtotal_minor") + models.F("tax_minor")),
                name="invoice_total_is_subtotal_plus_tax",
            ),
            models.CheckConstraint(
                condition=Q(amount_due_minor=models.F("total_minor") - models.F("credit_applied_minor"))
                & Q(credit_applied_minor__gte=0)
                & Q(amount_due_minor__gte=0),
                name="invoice_amount_due_consistent",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CreditNote(DocumentFields):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    sequence = models.PositiveIntegerField(help_text="NN in INVOICE-CN-NN, per invoice.")
    reason = models.CharField(max_length=32, default="seat_removal")

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "sequence"], name="credit_note_sequence_unique"),
            models.CheckConstraint(
                condition=Q(total_minor=models.F("subtotal_minor") + models.F("tax_minor")),
                name="credit_note_total_is_subtotal_plus_tax",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class LineFields(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16)
    description = models.CharField(max_length=300)
    interval = models.CharField(max_length=8, blank=True)
    unit = models.CharField(
        max_length=64, blank=True, db_default="", help_text="A unit type's code; empty: seats or base."
    )
    quantity = models.IntegerField()
    unit_price_minor = models.BigIntegerField()
    fraction_numerator = models.BigIntegerField()
    fraction_denominator = models.BigIntegerField()
    exact_amount_minor = models.DecimalField(
        max_digits=30, decimal_places=6, help_text="Before rounding, in minor units."
    )
    amount_minor = models.BigIntegerField(help_text="Rounded once, half up.")
    period_start = models.DateField()
    period_end = models.DateField()

    class Meta:
        abstract = True
        ordering = ["position"]

    def __str__(self) -> str:
        return self.description


class InvoiceLine(LineFields):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")

    class Meta(LineFields.Meta):
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")]


class CreditNoteLine(LineFields):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")

    class Meta(LineFields.Meta):
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "position"], name="credit_note_line_position")
        ]


class CreditBalanceEntry(models.Model):
    """Append-only ledger of the customer's credit balance (tax included); the balance is the sum."""

    class Kind(models.TextChoices):
        CREDIT_NOTE = "credit_note", "Credit note"
        APPLIED = "applied", "Applied to an invoice"
        ADJUSTMENT = "adjustment", "Manual adjustment"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(help_text="Positive adds credit, negative uses it.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    credit_note = models.OneToOneField(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="balance_entry"
    )
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="balance_entry"
    )
    effective_on = models.DateField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["effective_on", "id"]

    def __str__(self) -> str:
        return f"{self.effective_on} {self.kind} {self.amount_minor}"


def new_access_token() -> str:
    """43 URL-safe characters (256 random bits): the secret part of a PDF's download URL."""
    return secrets.token_urlsafe(32)


class DocumentPdf(models.Model):
    """A rendered PDF of an issued invoice or credit note, as stored: what is served forever.

    One row per document and template version. Re-rendering never rewrites a stored file:
    a new template version is a new row and a new file beside the old one, and the
    document's first PDF (the one made when it was issued) stays the one that is served.
    Rows never change (migration 0004's triggers refuse updates and deletes).
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="pdfs")
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="pdfs"
    )
    template_version = models.CharField(max_length=16, help_text="templates/invoices/pdf/<version>/")
    language = models.CharField(max_length=8)
    storage_name = models.CharField(max_length=255, help_text="The file's name in the default storage.")
    sha256 = models.CharField(max_length=64, help_text="Hex SHA-256 of the stored bytes.")
    size_bytes = models.PositiveIntegerField()
    access_token = models.CharField(max_length=64, unique=True, default=new_access_token)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(invoice__isnull=False, credit_note__isnull=True)
                | Q(invoice__isnull=True, credit_note__isnull=False),
                name="document_pdf_one_document",
            ),
            models.UniqueConstraint(
                fields=["invoice", "template_version"],
                condition=Q(invoice__isnull=False),
                name="document_pdf_once_per_invoice_version",
            ),
            models.UniqueConstraint(
                fields=["credit_note", "template_version"],
                condition=Q(credit_note__isnull=False),
                name="document_pdf_once_per_credit_note_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice or self.credit_note} ({self.template_version}, {self.language})"

    @property
    def document(self):
        return self.invoice or self.credit_note


class DocumentEmail(models.Model):
    """The marker that a document's e-mail went out: at most one per document, ever."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="email"
    )
    credit_note = models.OneToOneField(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="email"
    )
    pdf = models.ForeignKey(DocumentPdf, on_delete=models.PROTECT, related_name="+")
    recipients = models.TextField(help_text="Comma-separated addresses it was sent to.")
    language = models.CharField(max_length=8)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(invoice__isnull=False, credit_note__isnull=True)
                | Q(invoice__isnull=True, credit_note__isnull=False),
                name="document_email_one_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice or self.credit_note} to {self.recipients}"


class ExchangeRate(models.Model):
    """A euro foreign exchange reference rate of the ECB: 1 EUR = `rate` `currency` on `rate_on`.

    Reference data the operator loads (`manage.py exchange_rates_import FILE`), shared by every
    organization; the rate a document used is copied onto it, so a row changed or loaded later
    never changes an issued document.
    """

    currency = models.CharField(max_length=3)
    rate_on = models.DateField()
    rate = models.DecimalField(max_digits=20, decimal_places=6)
    source = models.CharField(max_length=255, help_text="The file it was imported from.")
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-rate_on", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "rate_on"], name="exchange_rate_once_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rate_on}: 1 EUR = {self.rate} {self.currency}"
