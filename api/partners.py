"""The partner API (seed 003): a partner's client organizations and their handover.

`/api/v1/organizations/<partner id>/clients/...`, for owners and admins of a partner
organization (`MANAGE_CLIENTS`); any other organization answers 404, and so does another
firm's client. The client's own endpoints (`/organizations/<client id>/...`) also answer
the partner's people, as owners while the partner pays (internal agreement), as finance
once the client pays itself (tenancy.acting_membership).

A handover is previewed first: the preview answers the documents each party would get and
a `state_token`; confirming with another token is refused 409 `preview_stale`.
"""

from types import SimpleNamespace

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.base import AmountField, AmountsMixin, ApiView, error_responses, minor_units_field
from api.idempotency import PARAMETER as IDEMPOTENCY_KEY
from api.idempotency import idempotent
from api.subscription import SubscriptionSerializer, subscription_state
from billing.domain.limits import MAX_SEATS
from billing.models import Plan
from billing.selectors import subscription_live
from core import clock
from organizations import partners as org_partners
from organizations.models import PartnerLink, Scope
from organizations.tenancy import Capability, is_acting
from partners import partner_exit
from partners import services as billing_partners

TAGS = ["partners"]


class PartnerApi(ApiView):
    # Base of the partner endpoints: the URL's organization must be a partner, seen by its
    # own owner or admin (a partner's person acting on a client gets 404 here).
    capability = Capability.MANAGE_CLIENTS

    def bind(self, request, url_kwargs: dict) -> None:
        super().bind(request, url_kwargs)
        if not self.organization.is_partner or is_acting(self.membership):
            raise Http404("No such organization.")

    def link(self, client_id: int) -> PartnerLink:
        link = org_partners.client_link_get(partner=self.organization, client_id=client_id)
        if link is None:
            raise Http404("No such client.")
        return link


def plan_for_code(code: str, *, subscription=None) -> Plan:
    plan = billing_partners.handover_plans(subscription=subscription).filter(code=code).first()
    if plan is None:
        raise ValidationError({"plan_code": [f"No plan with code {code!r} can be chosen."]})
    return plan


class ClientSerializer(AmountsMixin, serializers.Serializer):
    id = serializers.IntegerField(source="client_id")
    name = serializers.CharField()
    slug = serializers.CharField()
    plan = serializers.CharField(source="plan_name", help_text="Empty: no subscription.")
    seats_used = serializers.IntegerField()
    seats = serializers.IntegerField(source="seats_total")
    agreement = serializers.ChoiceField(choices=["internal", "external"])
    status = serializers.CharField(help_text="active, past_due, canceled or none.")
    next_renewal_on = serializers.DateField(allow_null=True)
    next_invoice_total = AmountField(
        source="next_invoice_minor", allow_null=True, help_text="Tax included; null: none due."
    )
    currency = serializers.CharField()
    overdue = serializers.BooleanField()
    handback_requested = serializers.BooleanField(help_text="The client's owner asked you to pay again.")


class ClientListCreateApi(PartnerApi):
    scope = {"GET": Scope.PARTNERS_READ, "POST": Scope.PARTNERS_WRITE}

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        legal_name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
        address_line1 = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
        address_line2 = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
        postcode = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
        city = serializers.CharField(max_length=60, required=False, default="", allow_blank=True)
        region = serializers.CharField(max_length=60, required=False, default="", allow_blank=True)
        country = serializers.CharField(max_length=2, default="DK")
        vat_id = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
        billing_email = serializers.EmailField(required=False, default="", allow_blank=True)
        language = serializers.CharField(max_length=8, default="en")
        plan_code = serializers.SlugField(required=False, allow_blank=True, default="")
        seats = serializers.IntegerField(min_value=0, max_value=MAX_SEATS, default=0)

    @extend_schema(
        operation_id="partner_clients_list",
        summary="The partner's client organizations (Companies)",
        description=(
            "The client organizations this partner manages, with their plan, seats and next invoice; "
            "search with `q`, page with `page`. Only for partner organizations, seen by their own "
            "owners and admins, or its API key (others get 404)."
        ),
        parameters=[
            OpenApiParameter("q", str, description="Search in name, legal name, VAT ID and address."),
            OpenApiParameter("page", int),
        ],
        responses={
            200: inline_serializer(
                "PartnerClientPage",
                {
                    "count": serializers.IntegerField(help_text="Clients found."),
                    "page": serializers.IntegerField(),
                    "pages": serializers.IntegerField(),
                    "results": ClientSerializer(many=True),
                },
            ),
            **error_responses(),
        },
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        page = billing_partners.companies_page(
            partner=self.organization,
            query=(request.query_params.get("q") or "")[:100],
            page_number=request.query_params.get("page") or 1,
            at=clock.now(),
        )
        return Response(
            {
                "count": page.page.paginator.count,
                "page": page.page.number,
                "pages": page.page.paginator.num_pages,
                "results": ClientSerializer(page.rows, many=True).data,
            }
        )

    @extend_schema(
        operation_id="partner_client_create",
        summary="Create a client organization (internal agreement: you pay)",
        description=(
            "The company and its answer in one transaction: a request that fails creates nothing. "
            "409 `client_exists` when you already manage a company of that name (a retried request "
            "does not create a second one)."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: ClientSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        details = dict(data.validated_data)
        code, seats = details.pop("plan_code"), details.pop("seats")
        plan = plan_for_code(code) if code else None
        at = clock.now()
        with transaction.atomic():
            link = billing_partners.client_create(
                partner=self.organization, acting_user=request.user, at=at, plan=plan, seats=seats, **details
            )
            (row,) = billing_partners.company_rows(links=[link], at=at)
        return Response(ClientSerializer(row).data, status=201)


class AgreementEventSerializer(serializers.Serializer):
    effective_on = serializers.DateField()
    kind = serializers.CharField()
    agreement = serializers.CharField(help_text="After the event.")
    actor = serializers.CharField(source="actor_label")
    details = serializers.JSONField()


class ClientSubscriptionApi(PartnerApi):
    scope = Scope.PARTNERS_READ

    class OutputSerializer(serializers.Serializer):
        client_id = serializers.IntegerField()
        agreement = serializers.CharField()
        bill_to = serializers.CharField(help_text="Who the invoices are addressed to now.")
        subscription = SubscriptionSerializer(allow_null=True)
        history = AgreementEventSerializer(many=True)

    @extend_schema(
        operation_id="partner_client_subscription",
        summary="A client's subscription, agreement and its history",
        description=(
            "The client's subscription (plan, status, period, seats), its agreement with the partner "
            "and the agreement's history. 404 when the client is not one of this partner's."
        ),
        responses={200: OutputSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int, client_id: int):
        link = self.link(client_id)
        client = link.organization
        result = {
            "client_id": client.pk,
            "agreement": link.agreement,
            "bill_to": org_partners.bill_to_for(client).invoice_name,
            "subscription": subscription_state(client),
            "history": org_partners.agreement_history(organization=client),
        }
        return Response(self.OutputSerializer(result).data)


class SettlementLineSerializer(serializers.Serializer):
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    fraction = serializers.CharField()
    currency = serializers.CharField()
    # The one amount shown as people read it (the handover page's wording), so declared as text
    # with its integer beside it rather than as an AmountField.
    amount = serializers.CharField(
        help_text="Formatted for reading, e.g. '-€145.16'; `amount_minor` to compute."
    )
    amount_minor = minor_units_field("amount")


class SettlementDocumentSerializer(AmountsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=["invoice", "credit_note"])
    party = serializers.CharField(help_text="The customer on the document.")
    party_role = serializers.ChoiceField(choices=["partner", "client"])
    currency = serializers.CharField()
    lines = SettlementLineSerializer(many=True)
    subtotal = AmountField(source="subtotal_minor")
    tax_rate = serializers.CharField()
    tax = AmountField(source="tax_minor")
    total = AmountField(source="total_minor")
    credit_applied = AmountField(source="credit_applied_minor")
    amount_due = AmountField(source="amount_due_minor")


class LeftoverSerializer(serializers.Serializer):
    ref = serializers.CharField(help_text="Send it in the handover's `keep` to keep this one.")
    kind = serializers.ChoiceField(choices=list(partner_exit.HANDOVER_KINDS))
    name = serializers.CharField(
        help_text="The key's or token's name; the provider's issuer; the domain; the invited or the "
        "billing e-mail."
    )
    detail = serializers.CharField(
        help_text="The key's or token's prefix; the provider's client ID; empty for a domain; the "
        "invitation's role; the address replacing the billing e-mail."
    )
    made_by = serializers.CharField()
    made_at = serializers.DateTimeField(allow_null=True)


class HandoverInputSerializer(serializers.Serializer):
    plan_code = serializers.SlugField(max_length=64, help_text="The subscription the client will have.")
    superuser_name = serializers.CharField(max_length=150)
    superuser_reference = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    superuser_email = serializers.EmailField()


class ClientHandoverPreviewApi(PartnerApi):
    scope = Scope.PARTNERS_WRITE

    class OutputSerializer(serializers.Serializer):
        allowed = serializers.BooleanField()
        refusal_code = serializers.CharField()
        refusal_message = serializers.CharField()
        state_token = serializers.CharField(source="token")
        documents = SettlementDocumentSerializer(many=True)
        partner_credentials = LeftoverSerializer(
            many=True,
            help_text="API keys, SCIM tokens, the SSO connection and the e-mail domains your people made "
            "or proved for the client, the pending invitations they made (`invitation`), and the client's "
            "billing e-mail when it is one of yours (`billing_email`: `name` the address, `detail` the "
            "superuser's address that replaces it): the handover revokes, withdraws or replaces each "
            "unless its ref is in `keep`.",
        )

    @extend_schema(
        operation_id="partner_client_handover_preview",
        summary="What handing a client over (internal to external) would issue to each party",
        description=(
            "Changes nothing: shows the settlement documents each party would get if the client were "
            "handed over now, and the `state_token` to confirm with. Only for partner organizations' "
            "owners and admins, or its API key."
        ),
        request=HandoverInputSerializer,
        responses={200: OutputSerializer, **error_responses(400)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int, client_id: int):
        link = self.link(client_id)
        data = HandoverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        plan = plan_for_code(
            values.pop("plan_code"), subscription=subscription_live(organization=link.organization)
        )
        at, on = clock.organization_now_and_today(link.organization)
        preview = billing_partners.agreement_handover_preview(
            link=link, plan=plan, on=on, at=at, acting_user=request.user, **values
        )
        leftovers = partner_exit.leftovers(
            link=link, event=partner_exit.HANDOVER, new_owner_email=values["superuser_email"]
        )
        result = SimpleNamespace(**vars(preview), allowed=preview.allowed, partner_credentials=leftovers)
        return Response(self.OutputSerializer(result).data)


class ClientHandoverApi(PartnerApi):
    scope = Scope.PARTNERS_WRITE

    class InputSerializer(HandoverInputSerializer):
        state_token = serializers.CharField(max_length=64, help_text="From the preview.")
        keep = serializers.ListField(
            child=serializers.CharField(max_length=64),
            required=False,
            default=list,
            max_length=1000,
            help_text="Refs of the preview's `partner_credentials` to keep; every other one is revoked.",
        )

    class OutputSerializer(serializers.Serializer):
        agreement = serializers.CharField()
        pending_invoice = serializers.CharField(allow_blank=True)
        credit_note = serializers.CharField(allow_blank=True, help_text="To the partner.")
        invoice = serializers.CharField(allow_blank=True, help_text="To the client.")
        invitation_email = serializers.EmailField()
        invitation_expires_at = serializers.DateTimeField()
        revoked = serializers.ListField(child=serializers.CharField(), help_text="Refs revoked.")
        kept = serializers.ListField(child=serializers.CharField(), help_text="Refs kept.")

    @extend_schema(
        operation_id="partner_client_handover",
        summary="Hand a client over: it pays itself from today, its superuser becomes its owner",
        description=(
            "One transaction: the partner's credit note for the unused part of the period, the "
            "client's invoice on the chosen plan to the period end (anchor unchanged), the "
            "superuser's owner invitation and e-mail, and the revocation of the API keys, SCIM "
            "tokens, SSO connection and proven e-mail domains your people made or proved for the "
            "client, the withdrawal of their pending invitations and the replacement of a billing "
            "e-mail of yours by the superuser's address, except those in `keep`. "
            "409 `preview_stale` if anything changed since the preview."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OutputSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int, client_id: int):
        link = self.link(client_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        plan = plan_for_code(
            values.pop("plan_code"), subscription=subscription_live(organization=link.organization)
        )
        token = values.pop("state_token")
        at, on = clock.organization_now_and_today(link.organization)
        result = billing_partners.agreement_handover(
            link=link,
            plan=plan,
            on=on,
            at=at,
            acting_user=request.user,
            expected_token=token,
            **values,
        )
        return Response(
            self.OutputSerializer(
                {
                    "agreement": result.link.agreement,
                    **result.settlement.numbers(),
                    "invitation_email": result.invitation.email,
                    "invitation_expires_at": result.invitation.expires_at,
                    "revoked": [leftover.ref for leftover in result.exit.revoked],
                    "kept": [leftover.ref for leftover in result.exit.kept],
                }
            ).data
        )
