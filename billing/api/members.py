"""Members: list, invite, remove, reassign a seat.

Joining and leaving take and release seats, so removal and reassignment go through
`seats.services`; an invitation takes its seat when it is accepted.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from organizations import selectors as org_selectors
from organizations import services as org_services
from organizations.models import Role
from organizations.tenancy import Capability
from seats import services as seat_services

from .base import InputRefused, OrganizationApi, SeatIntervalField, error_responses

TAGS = ["members"]


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The membership's id.")
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.get_full_name")
    role = serializers.ChoiceField(choices=Role.choices)
    seat_interval = serializers.CharField(
        help_text="Paid seat's interval; empty: an included or pooled seat."
    )
    joined_on = serializers.DateField()


class MembershipObjectMixin:
    def get_membership(self, membership_id: int):
        """An active member of this organization (never another's), or 404."""
        membership = org_selectors.membership_get(organization=self.organization, membership_id=membership_id)
        if membership is None:
            raise Http404("No such member.")
        return membership


class MemberListInviteApi(OrganizationApi):
    capability = {"GET": Capability.VIEW, "POST": Capability.MANAGE_MEMBERS}

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
        seat_interval = SeatIntervalField(help_text="The interval of the paid seat they take.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices)
        seat_interval = serializers.CharField()
        status = serializers.CharField()
        expires_at = serializers.DateTimeField()
        accept_url = serializers.SerializerMethodField(
            help_text="The link e-mailed to the person; shown only in this response."
        )

        def get_accept_url(self, invitation) -> str:
            return self.context["base_url"] + org_services.invitation_accept_path(invitation.token)

    @extend_schema(
        operation_id="members_list",
        summary="Active members, owners first",
        responses={200: MemberSerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        members = org_selectors.member_list(organization=self.organization)
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(
        operation_id="members_invite",
        summary="Invite someone by e-mail",
        description=(
            "E-mails a link to join with the role. They take a seat when they accept (buying one "
            "in auto seat mode, refused in manual mode when no seat is free). Only owners invite owners."
        ),
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 409)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at, _on = self.now_and_today()
        base_url = request.build_absolute_uri("/").rstrip("/")
        invitation = org_services.invitation_create(
            organization=self.organization,
            invited_by=request.user,
            at=at,
            base_url=base_url,
            **data.validated_data,
        )
        output = self.OutputSerializer(invitation, context={"base_url": base_url})
        return Response(output.data, status=status.HTTP_201_CREATED)


class MemberRemoveApi(MembershipObjectMixin, OrganizationApi):
    capability = Capability.MANAGE_MEMBERS

    @extend_schema(
        operation_id="members_remove",
        summary="Remove a member",
        description=(
            "Their history stays. Unused paid seats are given back and credited, or stay paid until "
            "renewal, as the plan says. The last owner cannot be removed (409 `last_owner`)."
        ),
        responses={204: None, **error_responses(409)},
        tags=TAGS,
    )
    def delete(self, request, organization_id: int, membership_id: int):
        membership = self.get_membership(membership_id)
        at, on = self.now_and_today()
        seat_services.members_remove(
            organization=self.organization, memberships=[membership], on=on, at=at, acting_user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberReassignApi(MembershipObjectMixin, OrganizationApi):
    capability = Capability.MANAGE_MEMBERS

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(help_text="Someone with an account here, not yet a member.")

    @extend_schema(
        operation_id="members_reassign",
        summary="Give a member's seat to someone else",
        description=(
            "The member leaves and the other person joins on the same seat: no charge, no credit. "
            "The person needs an account (400 `unknown_user` otherwise: invite them instead). "
            "An owner's seat passes on as a member's."
        ),
        request=InputSerializer,
        responses={200: MemberSerializer, **error_responses(400, 409)},
        tags=TAGS,
    )
    def post(self, request, organization_id: int, membership_id: int):
        membership = self.get_membership(membership_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        to_user = org_selectors.user_get_by_email(email=data.validated_data["email"])
        if to_user is None:
            raise InputRefused(
                "Nobody has an account with this e-mail yet. Invite them instead.",
                code="unknown_user",
                field="email",
            )
        at, on = self.now_and_today()
        new_membership = seat_services.seat_reassign(
            organization=self.organization,
            membership=membership,
            to_user=to_user,
            on=on,
            at=at,
            acting_user=request.user,
        )
        return Response(MemberSerializer(new_membership).data)
