"""Invoices, credit notes and the credit balance: reads for finance and owners (VIEW_INVOICES)."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from api.base import AmountField, AmountsMixin, ApiView, DocumentPagination, error_responses, percent_text
from billing.domain.money import BILLED_CURRENCIES
from billing.selectors import subscription_live
from invoices.models import CreditNote, Invoice
from invoices.services import credit_balance_minor
from organizations.models import Scope
from organizations.tenancy import Capability

TAGS = ["invoices"]


class InvoiceSummarySerializer(AmountsMixin, serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    reason = serializers.CharField()
    status = serializers.CharField()
    issued_on = serializers.DateField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")
    currency = serializers.CharField()
    subtotal = AmountField(source="subtotal_minor")
    tax = AmountField(source="tax_minor")
    total = AmountField(source="total_minor")
    credit_applied = AmountField(source="credit_applied_minor", help_text="Paid from the credit balance.")
    amount_due = AmountField(source="amount_due_minor")
    due_on = serializers.DateField(allow_null=True, help_text="Null on invoices issued before due dates.")
    due_on_receipt = serializers.BooleanField(help_text="Charged to the card at issue: due at once.")


class CreditNoteSummarySerializer(AmountsMixin, serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    reason = serializers.CharField()
    issued_on = serializers.DateField()
    invoice_id = serializers.IntegerField(help_text="The invoice this credit note corrects.")
    currency = serializers.CharField()
    subtotal = AmountField(source="subtotal_minor")
    tax = AmountField(source="tax_minor")
    total = AmountField(source="total_minor", help_text="Added to the credit balance.")


class DocumentLineSerializer(AmountsMixin, serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.CharField()
    description = serializers.CharField()
    interval = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = AmountField(source="unit_price_minor")
    fraction = serializers.SerializerMethodField(help_text="Share of the period charged: '1' or '15/31'.")
    amount = AmountField(source="amount_minor", help_text="quantity × unit price × fraction, rounded once.")
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")

    def get_fraction(self, line) -> str:
        if line.fraction_numerator == line.fraction_denominator:
            return "1"
        return f"{line.fraction_numerator}/{line.fraction_denominator}"


class PartiesMixin(serializers.Serializer):
    # Customer and seller as they were on the issue date, and the tax.

    tax_rate = serializers.SerializerMethodField(help_text="Percent, e.g. '25'.")
    tax_kind = serializers.CharField()
    customer_name = serializers.CharField()
    customer_address = serializers.CharField()
    customer_country = serializers.CharField()
    customer_vat_id = serializers.CharField()
    seller_name = serializers.CharField()
    seller_address = serializers.CharField()
    seller_country = serializers.CharField()
    seller_vat_id = serializers.CharField()

    def get_tax_rate(self, document) -> str:
        return percent_text(document.tax_rate)


def _lines(serializer: serializers.Serializer, document) -> list:
    context = {**serializer.context, "currency": document.currency}
    return DocumentLineSerializer(document.lines.all(), many=True, context=context).data


class InvoiceListApi(ApiView):
    capability = Capability.VIEW_INVOICES
    scope = Scope.BILLING_READ
    pagination_class = DocumentPagination

    def get_queryset(self):
        return Invoice.objects.filter(organization=self.organization).order_by("-issued_on", "-sequence")

    @extend_schema(
        operation_id="invoices_list",
        summary="Invoices, newest first (paginated)",
        description=(
            "Issued invoices with their totals and status, newest first, 25 per page (`page`, "
            "`page_size` up to 100). People: owners and finance."
        ),
        responses={200: InvoiceSummarySerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InvoiceSummarySerializer(page, many=True).data)


class InvoiceDetailApi(ApiView):
    capability = Capability.VIEW_INVOICES
    scope = Scope.BILLING_READ

    class OutputSerializer(PartiesMixin, InvoiceSummarySerializer):
        lines = serializers.SerializerMethodField()
        credit_notes = serializers.SerializerMethodField(help_text="Credit notes correcting this invoice.")

        @extend_schema_field(DocumentLineSerializer(many=True))
        def get_lines(self, invoice):
            return _lines(self, invoice)

        @extend_schema_field(CreditNoteSummarySerializer(many=True))
        def get_credit_notes(self, invoice):
            return CreditNoteSummarySerializer(invoice.credit_notes.all(), many=True).data

    def get_queryset(self):
        return Invoice.objects.filter(organization=self.organization)

    @extend_schema(
        operation_id="invoices_retrieve",
        summary="One invoice with its lines",
        description=(
            "One invoice with its lines, tax, credit applied and amount due. 404 for another "
            "organization's invoice. People: owners and finance."
        ),
        responses={200: OutputSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int, invoice_id: int):
        invoice = self.get_queryset().prefetch_related("lines", "credit_notes").filter(pk=invoice_id).first()
        if invoice is None:
            raise Http404("No such invoice.")
        return Response(self.OutputSerializer(invoice).data)


class CreditNoteListApi(ApiView):
    capability = Capability.VIEW_INVOICES
    scope = Scope.BILLING_READ
    pagination_class = DocumentPagination

    def get_queryset(self):
        return CreditNote.objects.filter(organization=self.organization).order_by("-issued_on", "-id")

    @extend_schema(
        operation_id="credit_notes_list",
        summary="Credit notes, newest first (paginated)",
        description=(
            "Issued credit notes with their totals, newest first, 25 per page (`page`, `page_size` up "
            "to 100). People: owners and finance."
        ),
        responses={200: CreditNoteSummarySerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CreditNoteSummarySerializer(page, many=True).data)


class CreditNoteDetailApi(ApiView):
    capability = Capability.VIEW_INVOICES
    scope = Scope.BILLING_READ

    class OutputSerializer(PartiesMixin, CreditNoteSummarySerializer):
        invoice_number = serializers.CharField(source="invoice.number")
        lines = serializers.SerializerMethodField()

        @extend_schema_field(DocumentLineSerializer(many=True))
        def get_lines(self, note):
            return _lines(self, note)

    def get_queryset(self):
        return CreditNote.objects.filter(organization=self.organization)

    @extend_schema(
        operation_id="credit_notes_retrieve",
        summary="One credit note with its lines",
        description=(
            "One credit note with its lines and tax. 404 for another organization's credit note. Owners"
            " and finance only."
        ),
        responses={200: OutputSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int, credit_note_id: int):
        note = (
            self.get_queryset()
            .select_related("invoice")
            .prefetch_related("lines")
            .filter(pk=credit_note_id)
            .first()
        )
        if note is None:
            raise Http404("No such credit note.")
        return Response(self.OutputSerializer(note).data)


class CreditBalanceDetailApi(ApiView):
    capability = Capability.VIEW_INVOICES
    scope = Scope.BILLING_READ

    class OutputSerializer(AmountsMixin, serializers.Serializer):
        currency = serializers.CharField()
        balance = AmountField(source="balance_minor", help_text="Credit applied to the next invoices.")

    @extend_schema(
        operation_id="credit_balance_retrieve",
        summary="The credit balance (from credit notes, used by the next invoices)",
        description=(
            "Credit from credit notes not yet used, applied to the next invoices in that currency. 400 "
            "for a currency that is not billed. People: owners and finance."
        ),
        parameters=[
            OpenApiParameter(
                "currency",
                str,
                OpenApiParameter.QUERY,
                enum=sorted(BILLED_CURRENCIES),
                description="Default: the subscription's currency, else the organization's.",
            )
        ],
        responses={200: OutputSerializer, **error_responses(400)},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        currency = request.query_params.get("currency", "").upper()
        if not currency:
            subscription = subscription_live(organization=self.organization)
            currency = subscription.plan.currency if subscription else self.organization.currency
        if currency not in BILLED_CURRENCIES:
            raise serializers.ValidationError({"currency": [f"Unknown currency {currency!r}."]})
        balance = credit_balance_minor(organization=self.organization, currency=currency)
        return Response(self.OutputSerializer({"currency": currency, "balance_minor": balance}).data)
