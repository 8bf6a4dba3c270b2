"""The organization's billing details (its tax identity) over the API: read and change.

The same service as the settings page (organizations.services.organization_update_billing_details):
only owners and finance, each change audited, a VAT ID checked against the country
(core.tax_ids) and with VIES (core.vies). A refused change answers 400 with the field
and changes nothing.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.base import ApiView, error_responses
from api.idempotency import PARAMETER as IDEMPOTENCY_KEY
from api.idempotency import idempotent
from core import clock
from organizations import services
from organizations.models import Scope
from organizations.tenancy import Capability

TAGS = ["organization"]


class BillingDetailsSerializer(serializers.Serializer):
    legal_name = serializers.CharField()
    address_line1 = serializers.CharField()
    address_line2 = serializers.CharField()
    postcode = serializers.CharField()
    city = serializers.CharField()
    region = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2.")
    vat_id = serializers.CharField(help_text="As stored: country prefix and number, e.g. DK13585628.")
    vat_id_check = serializers.CharField(
        help_text="format_valid (not verified with VIES), verified, or empty without a VAT ID."
    )
    vat_id_checked_on = serializers.DateField(allow_null=True)
    billing_email = serializers.CharField()


class BillingDetailsApi(ApiView):
    capability = Capability.MANAGE_TAX_IDENTITY
    scope = {"GET": Scope.BILLING_READ, "PATCH": Scope.BILLING_WRITE}

    class InputSerializer(serializers.Serializer):
        # Lengths as the service's; the service refuses control characters and bad VAT IDs.
        legal_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        address_line1 = serializers.CharField(max_length=100, required=False, allow_blank=True)
        address_line2 = serializers.CharField(max_length=100, required=False, allow_blank=True)
        postcode = serializers.CharField(max_length=16, required=False, allow_blank=True)
        city = serializers.CharField(max_length=60, required=False, allow_blank=True)
        region = serializers.CharField(max_length=60, required=False, allow_blank=True)
        country = serializers.CharField(max_length=2, required=False)
        vat_id = serializers.CharField(max_length=32, required=False, allow_blank=True)
        billing_email = serializers.CharField(max_length=254, required=False, allow_blank=True)

    @extend_schema(
        operation_id="billing_details_retrieve",
        summary="The billing details invoices are issued with",
        description=(
            "The legal name, address, VAT ID (with how it was checked) and billing e-mail the next "
            "invoice and credit note are issued with. People: owners and finance (403 for other roles)."
        ),
        responses={200: BillingDetailsSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        return Response(BillingDetailsSerializer(self.organization).data)

    @extend_schema(
        operation_id="billing_details_update",
        summary="Change billing details (owners and finance); the next document issued uses them",
        description=(
            "Send only the fields to change. The VAT ID is checked against the country and with VIES; a"
            " refused change answers 400 naming the field and changes nothing. Each change is written "
            "to the audit log. Accepts `Idempotency-Key`."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: BillingDetailsSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def patch(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at = clock.now()
        organization = services.organization_update_billing_details(
            organization=self.organization, at=at, acting_user=request.user, **data.validated_data
        )
        return Response(BillingDetailsSerializer(organization).data)
