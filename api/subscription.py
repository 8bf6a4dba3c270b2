"""Plans, the subscription, plan changes and seat purchases: preview first, then confirm.

A preview answers the exact documents confirming would issue and a `state_token`.
Confirming requires that token: if anything the amounts depend on changed meanwhile
(someone bought seats, a renewal ran, credit was used), the service refuses with 409
`preview_stale` and nothing changes; preview again and review the new amounts.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from api.base import AmountField, AmountsMixin, ApiView, SeatIntervalField, error_responses
from api.documents import CreditNoteSummarySerializer, InvoiceSummarySerializer
from api.idempotency import PARAMETER as IDEMPOTENCY_KEY
from api.idempotency import idempotent
from billing.domain.limits import MAX_SEATS
from billing.preview import Preview, plan_change_preview
from billing.selectors import plan_list, seat_summary, subscription_live
from core import clock
from invoices.models import CreditNote, Invoice
from organizations.models import Scope
from organizations.tenancy import Capability
from seats.previews import seat_purchase_preview
from seats.services import seat_purchase
from usage.services import plan_change_confirmed

TAGS = ["subscription"]


# Shared output ---------------------------------------------------------------------------


class PlanSummarySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    interval = serializers.CharField()
    currency = serializers.CharField()


class SeatsSerializer(serializers.Serializer):
    seats = serializers.IntegerField(help_text="All seats: included and paid.")
    members = serializers.IntegerField(help_text="Active members, each on a seat.")
    free = serializers.IntegerField()
    included = serializers.IntegerField(help_text="Included in the plan's price.")
    committed = serializers.IntegerField(help_text="The contract's minimum.")
    max_seats = serializers.IntegerField(allow_null=True, help_text="Null: no cap.")


class SubscriptionSerializer(serializers.Serializer):
    # Reads the {"subscription": Subscription, "seats": SeatSummary} of subscription_state().

    id = serializers.IntegerField(source="subscription.pk")
    plan = PlanSummarySerializer(source="subscription.plan")
    status = serializers.CharField(source="subscription.status")
    current_period_start = serializers.DateField(source="subscription.current_period_start")
    current_period_end = serializers.DateField(
        source="subscription.current_period_end", help_text="Exclusive."
    )
    committed_seats = serializers.IntegerField(source="subscription.committed_seats")
    cancel_at_period_end = serializers.BooleanField(source="subscription.cancel_at_period_end")
    auto_renew = serializers.BooleanField(source="subscription.auto_renew")
    seats = SeatsSerializer()


def subscription_state(organization) -> dict | None:
    subscription = subscription_live(organization=organization)
    if subscription is None:
        return None
    return {"subscription": subscription, "seats": seat_summary(organization=organization)}


class PreviewLineSerializer(AmountsMixin, serializers.Serializer):
    description = serializers.CharField()
    quantity = serializers.IntegerField(help_text="Negative on a credit.")
    unit_price = AmountField(source="unit_price_minor")
    fraction = serializers.CharField(help_text="Share of the period: '1' or '15/31'.")
    amount = AmountField(source="amount_minor")
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive.")


class PreviewDocumentSerializer(AmountsMixin, serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["invoice", "credit_note", "pending"],
        help_text="pending: charged on a later invoice, on `issued_on` (null: the next renewal).",
    )
    issued_on = serializers.DateField(allow_null=True)
    currency = serializers.CharField()
    lines = serializers.SerializerMethodField()
    subtotal = AmountField(source="subtotal_minor")
    tax_rate = serializers.CharField(help_text="Percent, e.g. '25'; empty for pending charges.")
    tax = AmountField(source="tax_minor")
    total = AmountField(source="total_minor")
    credit_applied = AmountField(source="credit_applied_minor")
    amount_due = AmountField(source="amount_due_minor")

    @extend_schema_field(PreviewLineSerializer(many=True))
    def get_lines(self, document):
        context = {**self.context, "currency": document.currency}
        return PreviewLineSerializer(document.lines, many=True, context=context).data


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PreviewSerializer(AmountsMixin, serializers.Serializer):
    action = serializers.CharField()
    allowed = serializers.BooleanField(help_text="False: confirming would be refused, see `refusal`.")
    refusal = serializers.SerializerMethodField()
    state_token = serializers.CharField(help_text="Send it back to confirm exactly this.")
    currency = serializers.SerializerMethodField()
    amount_due_now = AmountField(source="amount_due_now_minor", help_text="Sum of the invoices' amount due.")
    credited = AmountField(source="credited_minor", help_text="Sum of the credit notes, to the balance.")
    documents = PreviewDocumentSerializer(many=True)

    @extend_schema_field(RefusalSerializer(allow_null=True))
    def get_refusal(self, preview):
        if preview.allowed:
            return None
        return {"code": preview.refusal_code, "message": preview.refusal_message}

    def get_currency(self, preview) -> str:
        return self.context["currency"]


class ChangeResultSerializer(serializers.Serializer):
    subscription = SubscriptionSerializer()
    invoices = InvoiceSummarySerializer(many=True, help_text="Issued by this request.")
    credit_notes = CreditNoteSummarySerializer(many=True, help_text="Issued by this request.")


# Views -----------------------------------------------------------------------------------


class SubscriptionApiMixin:
    # Rendering shared by the preview and confirm views (a comment: see ApiView).

    def preview_response(self, preview: Preview) -> Response:
        if preview.documents:
            currency = preview.documents[0].currency
        else:
            subscription = subscription_live(organization=self.organization)
            currency = subscription.plan.currency if subscription else self.organization.currency
        return Response(PreviewSerializer(preview, context={"currency": currency}).data)

    def change_response(self, at) -> Response:
        """The subscription after the change and the documents issued at instant `at` (this request)."""
        result = {
            "subscription": subscription_state(self.organization),
            "invoices": Invoice.objects.filter(organization=self.organization, created_at=at).order_by(
                "sequence"
            ),
            "credit_notes": CreditNote.objects.filter(organization=self.organization, created_at=at).order_by(
                "id"
            ),
        }
        return Response(ChangeResultSerializer(result).data)


def plan_for_code(code: str):
    """A plan offered in the change-plan list, or invalid input."""
    plan = plan_list(public_only=True).filter(code=code).first()
    if plan is None:
        raise ValidationError({"plan_code": [f"No plan with code {code!r} is offered."]})
    return plan


class PlanSeatPriceSerializer(AmountsMixin, serializers.Serializer):
    interval = serializers.CharField()
    unit_price = AmountField(source="unit_price_minor", currency_source="plan.currency")


class PlanLimitSerializer(serializers.Serializer):
    meter = serializers.CharField()
    limit = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    hard = serializers.BooleanField(help_text="Hard: refused at the limit; soft: allowed and flagged.")


class PlanListApi(ApiView):
    capability = Capability.VIEW
    scope = Scope.BILLING_READ

    class OutputSerializer(AmountsMixin, serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()
        currency = serializers.CharField()
        interval = serializers.CharField()
        base_price = AmountField(source="base_price_minor", help_text="Per interval, excluding tax.")
        seat_price = AmountField(source="seat_price_minor", help_text="Per paid seat per interval.")
        seat_prices = PlanSeatPriceSerializer(
            source="seat_prices.all",
            many=True,
            help_text="Per-member intervals: a price per interval (empty: seats are one pool).",
        )
        included_seats = serializers.IntegerField()
        max_seats = serializers.IntegerField(allow_null=True, help_text="Null: no cap.")
        seat_mode = serializers.CharField()
        seat_removal = serializers.CharField()
        seat_invoicing = serializers.CharField()
        proration = serializers.CharField()
        limits = PlanLimitSerializer(source="limits.all", many=True)
        current = serializers.SerializerMethodField(help_text="The organization's plan now.")

        def get_current(self, plan) -> bool:
            return plan.pk == self.context["current_plan_id"]

    @extend_schema(
        operation_id="plans_list",
        summary="Plans offered, with prices and limits",
        description=("The plans this organization may choose, with prices and limits. People: any member."),
        responses={200: OutputSerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        subscription = subscription_live(organization=self.organization)
        context = {"current_plan_id": subscription.plan_id if subscription else None}
        return Response(self.OutputSerializer(plan_list(public_only=True), many=True, context=context).data)


class SubscriptionDetailApi(ApiView):
    capability = Capability.VIEW
    scope = Scope.BILLING_READ

    @extend_schema(
        operation_id="subscription_retrieve",
        summary="The subscription: plan, status, period and seats",
        description=("The live subscription: plan, status, current period and seats. People: any member."),
        responses={200: SubscriptionSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        state = subscription_state(self.organization)
        if state is None:
            raise NotFound("This organization has no subscription yet.", code="no_subscription")
        return Response(SubscriptionSerializer(state).data)


class PlanChangePreviewApi(SubscriptionApiMixin, ApiView):
    capability = Capability.MANAGE_PLAN
    scope = Scope.BILLING_WRITE

    class InputSerializer(serializers.Serializer):
        plan_code = serializers.SlugField(max_length=64)

    @extend_schema(
        operation_id="plan_change_preview",
        summary="What changing to a plan would invoice or credit now",
        description=(
            "Nothing changes. A change takes effect at once: the unused part of the old plan is "
            "credited and the new plan charged for the rest of the period, by day. A change the "
            "rules refuse (e.g. fewer seats than members) answers `allowed: false` with the reason."
        ),
        request=InputSerializer,
        responses={200: PreviewSerializer, **error_responses(400)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = plan_for_code(data.validated_data["plan_code"])
        at, on = clock.organization_now_and_today(self.organization)
        return self.preview_response(
            plan_change_preview(organization=self.organization, plan=plan, on=on, at=at)
        )


class PlanChangeApi(SubscriptionApiMixin, ApiView):
    capability = Capability.MANAGE_PLAN
    scope = Scope.BILLING_WRITE

    class InputSerializer(serializers.Serializer):
        plan_code = serializers.SlugField(max_length=64)
        state_token = serializers.CharField(max_length=64, help_text="From the preview.")
        accept_over_limits = serializers.BooleanField(
            default=False,
            help_text="Required (true) when the new plan's limits are below today's usage.",
        )

    @extend_schema(
        operation_id="plan_change",
        summary="Change the plan, as previewed",
        description=(
            "Refused with 409 `preview_stale` if anything changed since the preview (nothing "
            "changes; preview again), with 409 `plan_change_refused` and the reason when the "
            "rules refuse the change, and with 409 `over_limits_unconfirmed` (each meter, used "
            "against the new limit) when the new plan's limits are below today's usage and "
            "`accept_over_limits` is not true."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: ChangeResultSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = plan_for_code(data.validated_data["plan_code"])
        at, on = clock.organization_now_and_today(self.organization)
        plan_change_confirmed(
            organization=self.organization,
            plan=plan,
            on=on,
            at=at,
            acting_user=request.user,
            expected_token=data.validated_data["state_token"],
            accept_over_limits=data.validated_data["accept_over_limits"],
        )
        return self.change_response(at)


class SeatPurchasePreviewApi(SubscriptionApiMixin, ApiView):
    capability = Capability.MANAGE_PLAN
    scope = Scope.BILLING_WRITE

    class InputSerializer(serializers.Serializer):
        count = serializers.IntegerField(min_value=1, max_value=MAX_SEATS)
        interval = SeatIntervalField(help_text="On plans with per-member intervals: the seats' interval.")

    @extend_schema(
        operation_id="seats_purchase_preview",
        summary="What buying seats would invoice now",
        description="Nothing changes. Seats are charged prorated for the rest of their period.",
        request=InputSerializer,
        responses={200: PreviewSerializer, **error_responses(400)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at, on = clock.organization_now_and_today(self.organization)
        preview = seat_purchase_preview(organization=self.organization, on=on, at=at, **data.validated_data)
        return self.preview_response(preview)


class SeatPurchaseApi(SubscriptionApiMixin, ApiView):
    capability = Capability.MANAGE_PLAN
    scope = Scope.BILLING_WRITE

    class InputSerializer(SeatPurchasePreviewApi.InputSerializer):
        state_token = serializers.CharField(max_length=64, help_text="From the preview.")

    @extend_schema(
        operation_id="seats_purchase",
        summary="Buy seats, as previewed",
        description=(
            "Refused with 409 `preview_stale` if anything changed since the preview (nothing changes; "
            "preview again), and with 409 and the rule's code when the rules refuse the purchase."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: ChangeResultSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at, on = clock.organization_now_and_today(self.organization)
        seat_purchase(
            organization=self.organization,
            count=data.validated_data["count"],
            interval=data.validated_data["interval"],
            on=on,
            at=at,
            acting_user=request.user,
            expected_token=data.validated_data["state_token"],
        )
        return self.change_response(at)
