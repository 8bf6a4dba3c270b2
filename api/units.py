"""Units other than seats (seed 001: phone numbers): list, preview, create and delete.

The SaaS creates and deletes its customers' units with the organization's API key; owners
may do the same with their session. Creating a unit beyond the ones paid for buys one,
prorated and invoiced as the plan says for seats; deleting follows the plan's seat removal
(billing-rules.md, "Units other than seats"). A `state_token` from the preview is optional
on create: given, a change since the preview refuses with 409 `preview_stale`.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from api.authentication import ApiKeyAuthentication
from api.base import AmountField, AmountsMixin, ApiView, error_responses
from api.documents import CreditNoteSummarySerializer, InvoiceSummarySerializer
from api.idempotency import PARAMETER as IDEMPOTENCY_KEY
from api.idempotency import idempotent
from api.subscription import PreviewSerializer, SubscriptionApiMixin
from billing import unit_selectors, unit_services
from billing.unit_services import MAX_UNITS_PER_REQUEST
from core import clock
from organizations.models import Scope
from organizations.tenancy import Capability

TAGS = ["units"]


def label_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=unit_services.LABEL_MAX_LENGTH, help_text="E.g. the phone number."
    )


class UnitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    unit = serializers.CharField(source="code", help_text="The unit type's code, e.g. phone_numbers.")
    label = serializers.CharField(help_text="What the unit is called (the number); may be empty.")
    created_on = serializers.DateField()


class UnitTypeSerializer(AmountsMixin, serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit_price = AmountField(
        source="unit_type.unit_price_minor", help_text="Per unit beyond the included ones, per plan interval."
    )
    created = serializers.IntegerField(help_text="Units that exist now.")
    included = serializers.IntegerField(
        help_text="Included in the plan or the contract's minimum: billed even when unused."
    )
    additional = serializers.IntegerField(help_text="Paid for beyond the included ones.")
    billed = serializers.IntegerField(help_text="Paid for in the current period: included + additional.")
    free = serializers.IntegerField(
        help_text="Paid for and unused: the next units created take these at no charge."
    )
    max_units = serializers.IntegerField(allow_null=True, help_text="Null: no cap.")


class UnitsApiMixin:
    # API keys (the SaaS) and owners' sessions (a comment: see ApiView).
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    capability = Capability.MANAGE_PLAN
    scope = {"GET": Scope.UNITS_READ, "POST": Scope.UNITS_WRITE, "DELETE": Scope.UNITS_WRITE}


class UnitsRequestSerializer(serializers.Serializer):
    """Which units to create: a type and either their labels or a count (preview and create)."""

    unit = serializers.SlugField(help_text="The unit type's code, e.g. phone_numbers.")
    labels = serializers.ListField(
        child=label_field(),
        min_length=1,
        max_length=MAX_UNITS_PER_REQUEST,
        required=False,
        help_text="One unit per label, each unique among the live units of its type.",
    )
    count = serializers.IntegerField(
        min_value=1, max_value=MAX_UNITS_PER_REQUEST, required=False, help_text="Units without a label."
    )

    def validate(self, attrs):
        if ("labels" in attrs) == ("count" in attrs):
            raise serializers.ValidationError("Give either labels or count.")
        return attrs


class UnitListCreateApi(UnitsApiMixin, SubscriptionApiMixin, ApiView):
    class InputSerializer(UnitsRequestSerializer):
        state_token = serializers.CharField(
            max_length=64,
            required=False,
            help_text="Optional, from the preview: refused if anything changed.",
        )

    class OutputSerializer(serializers.Serializer):
        unit_types = UnitTypeSerializer(many=True)
        units = UnitSerializer(many=True)

    class CreatedSerializer(serializers.Serializer):
        units = UnitSerializer(many=True, help_text="Created by this request.")
        invoices = InvoiceSummarySerializer(many=True, help_text="Issued by this request.")

    @extend_schema(
        operation_id="units_list",
        summary="Each unit type (created, included, additional) and the live units",
        description=(
            "Per unit type of the plan: the units created, those included in the plan (included and "
            "committed, billed even when unused), the additional ones paid for and the free paid ones "
            "the next units take; then the live units, oldest first."
        ),
        parameters=[OpenApiParameter("unit", str, description="Only the units of this type.")],
        responses={200: OutputSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        summaries = unit_selectors.unit_summaries(organization=self.organization)
        units = unit_selectors.units_list(
            organization=self.organization, code=request.query_params.get("unit")
        )
        context = {"currency": summaries[0].currency if summaries else self.organization.currency}
        return Response(
            self.OutputSerializer({"unit_types": summaries, "units": units}, context=context).data
        )

    @extend_schema(
        operation_id="units_create",
        summary="Create units",
        description=(
            "Units beyond the ones paid for are bought, prorated to the period's end and invoiced as "
            "the plan says (at once, the next day or on the next renewal invoice). Refused whole with "
            "409 `max_units_exceeded` beyond the plan's cap, 400 `invalid_unit_type` for a type the "
            "plan does not bill, 409 `duplicate_label` for a label in use."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: CreatedSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at, on = clock.organization_now_and_today(self.organization)
        done = unit_services.units_create(
            organization=self.organization,
            code=data.validated_data["unit"],
            count=data.validated_data.get("count"),
            labels=data.validated_data.get("labels"),
            on=on,
            at=at,
            acting_user=request.user,
            expected_token=data.validated_data.get("state_token"),
        )
        invoices = [done.invoice] if done.invoice is not None else []
        body = self.CreatedSerializer({"units": done.units, "invoices": invoices}).data
        return Response(body, status=status.HTTP_201_CREATED)


class UnitCreatePreviewApi(UnitsApiMixin, SubscriptionApiMixin, ApiView):
    class InputSerializer(UnitsRequestSerializer):
        pass

    @extend_schema(
        operation_id="units_create_preview",
        summary="What creating units would invoice now",
        description="Nothing changes. Send the `state_token` with the create to confirm exactly this.",
        request=InputSerializer,
        responses={200: PreviewSerializer, **error_responses(400)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at, on = clock.organization_now_and_today(self.organization)
        preview = unit_selectors.units_create_preview(
            organization=self.organization,
            code=data.validated_data["unit"],
            count=data.validated_data.get("count"),
            labels=data.validated_data.get("labels"),
            on=on,
            at=at,
        )
        return self.preview_response(preview)


class UnitDetailApi(UnitsApiMixin, ApiView):
    class OutputSerializer(UnitSerializer):
        pass

    class DeletedSerializer(serializers.Serializer):
        credit_notes = CreditNoteSummarySerializer(
            many=True, help_text="Issued by this request (plans that credit)."
        )

    def get_unit(self, unit_id: int):
        unit = unit_selectors.unit_get(organization=self.organization, unit_id=unit_id)
        if unit is None:
            raise Http404("No such unit.")
        return unit

    @extend_schema(
        operation_id="units_get",
        summary="A live unit",
        description="A deleted unit, or another organization's, is 404.",
        responses={200: OutputSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int, unit_id: int):
        return Response(self.OutputSerializer(self.get_unit(unit_id)).data)

    @extend_schema(
        operation_id="units_delete",
        summary="Delete a unit",
        description=(
            "On plans whose seats stay paid until renewal, the unit stays paid and the next unit "
            "created takes its place at no charge; on plans that credit, the unused time is credited "
            "(a credit note to the balance). A unit deleted already is 404."
        ),
        parameters=[IDEMPOTENCY_KEY],
        responses={200: DeletedSerializer, **error_responses(409, 422)},
        tags=TAGS,
    )
    @idempotent
    def delete(self, request, organization_id: int, unit_id: int):
        unit = self.get_unit(unit_id)
        at, on = clock.organization_now_and_today(self.organization)
        done = unit_services.units_delete(
            organization=self.organization,
            code=unit.code,
            unit_ids=[unit.pk],
            on=on,
            at=at,
            acting_user=request.user,
        )
        notes = [done.credit_note] if done.credit_note is not None else []
        return Response(self.DeletedSerializer({"credit_notes": notes}).data)
