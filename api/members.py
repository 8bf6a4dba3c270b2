"""Members: list, invite, read, change the billing interval, remove, reassign a seat.

Joining and leaving take and release seats, so removal and reassignment go through
`seats.services`; an invitation takes its seat when it is accepted. A member's billing
interval (plans with per-member intervals) changes at their next renewal.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import ApiView, SeatIntervalField, error_responses
from api.idempotency import PARAMETER as IDEMPOTENCY_KEY
from api.idempotency import idempotent
from billing.models import Interval
from core import clock
from organizations import selectors as org_selectors
from organizations import throttling
from organizations.models import Role, Scope
from organizations.tenancy import Capability
from seats import members as seat_reads
from seats import services as seat_services

TAGS = ["members"]


class SeatIntervalChangeSerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=Interval.choices, help_text="The interval from effective_on.")
    effective_on = serializers.DateField(help_text="The member's next renewal, when the change applies.")


class MemberSerializer(serializers.Serializer):
    # Reads `seat` (seats.members.MemberSeat) set on each membership by `with_seats`.
    id = serializers.IntegerField(help_text="The membership's id.")
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.get_full_name")
    role = serializers.ChoiceField(choices=Role.choices)
    seat_interval = serializers.CharField(
        help_text="Paid seat's interval; empty: an included or pooled seat."
    )
    seat_renews_on = serializers.DateField(
        source="seat.renews_on",
        allow_null=True,
        help_text="The end of the member's current seat period (their next renewal); null without a plan.",
    )
    seat_interval_change = SeatIntervalChangeSerializer(
        source="seat.change",
        allow_null=True,
        help_text="A change of billing interval scheduled for the next renewal; null: none.",
    )
    joined_on = serializers.DateField()


def with_seats(organization, memberships):
    """The memberships, each with `seat`: its seat's interval, next renewal and scheduled change."""
    seats = seat_reads.member_seats(organization=organization)
    memberships = list(memberships)
    for membership in memberships:
        membership.seat = seats.get(membership.pk)
    return memberships


class MembershipObjectMixin:
    def get_membership(self, membership_id: int):
        """An active member of this organization (never another's), or 404."""
        membership = org_selectors.membership_get(organization=self.organization, membership_id=membership_id)
        if membership is None:
            raise Http404("No such member.")
        return membership


class MemberListInviteApi(ApiView):
    capability = {"GET": Capability.VIEW, "POST": Capability.MANAGE_MEMBERS}
    scope = {"GET": Scope.MEMBERS_READ, "POST": Scope.MEMBERS_WRITE}

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
        # Not the link: it goes to the invited address alone, whose owner proves the address by
        # opening it (it sets the password of an account SCIM or single sign-on made, issue 19).

    @extend_schema(
        operation_id="members_list",
        summary="Active members, owners first",
        description=("Every active member with their role and e-mail, owners first. People: any member."),
        responses={200: MemberSerializer(many=True), **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int):
        members = with_seats(self.organization, org_selectors.member_list(organization=self.organization))
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(
        operation_id="members_invite",
        summary="Invite someone by e-mail",
        description=(
            "E-mails a link to join with the role to the address alone (the answer does not carry it: "
            "opening it proves the address). They take a seat when they accept (buying one "
            "in auto seat mode, refused in manual mode when no seat is free). Only owners invite owners "
            "and finance; an admin invites admins and members (409 `role_not_grantable`). Too many "
            "invitations from one address or organization in an hour: 429 `throttled` with Retry-After."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: OutputSerializer, **error_responses(400, 409, 422, 429)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        throttling.invitation_sending(request, organization=self.organization)
        at = clock.now()
        invitation = seat_services.invitation_create(
            organization=self.organization,
            invited_by=request.user,
            at=at,
            **data.validated_data,
        )
        return Response(self.OutputSerializer(invitation).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(MembershipObjectMixin, ApiView):
    capability = {
        "GET": Capability.VIEW,
        "PATCH": Capability.MANAGE_MEMBERS,
        "DELETE": Capability.MANAGE_MEMBERS,
    }
    scope = {"GET": Scope.MEMBERS_READ, "PATCH": Scope.MEMBERS_WRITE, "DELETE": Scope.MEMBERS_WRITE}

    class InputSerializer(serializers.Serializer):
        seat_interval = serializers.ChoiceField(
            choices=Interval.choices,
            help_text="The interval from the member's next renewal; their current one withdraws a change.",
        )

    def _member(self, membership):
        (member,) = with_seats(self.organization, [membership])
        return MemberSerializer(member).data

    @extend_schema(
        operation_id="members_read",
        summary="A member, with their seat's billing interval and next renewal",
        description=(
            "One active member: role, seat billing interval and next renewal. 404 for someone who is "
            "not an active member of this organization."
        ),
        responses={200: MemberSerializer, **error_responses()},
        tags=TAGS,
    )
    def get(self, request, organization_id: int, membership_id: int):
        return Response(self._member(self.get_membership(membership_id)))

    @extend_schema(
        operation_id="members_interval_change",
        summary="Change a member's billing interval at their next renewal",
        description=(
            "On plans with per-member intervals, for a member on a paid seat: the change is scheduled "
            "for the end of their current seat period and applied by that renewal; nothing is charged "
            "or credited before (docs/billing.md rule 19). A new choice replaces a scheduled one; the "
            "member's current interval withdraws it. 409 `interval_change_refused` for a member on an "
            "included seat or a plan without per-member intervals; 400 `invalid_interval` for an "
            "interval the plan does not offer."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: MemberSerializer, **error_responses(400, 409, 422)},
        tags=TAGS,
    )
    @idempotent
    def patch(self, request, organization_id: int, membership_id: int):
        membership = self.get_membership(membership_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        at, on = clock.organization_now_and_today(self.organization)
        seat_services.member_interval_change(
            organization=self.organization,
            membership=membership,
            interval=data.validated_data["seat_interval"],
            on=on,
            at=at,
            acting_user=request.user,
        )
        return Response(self._member(membership))

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
        at, on = clock.organization_now_and_today(self.organization)
        seat_services.members_remove(
            organization=self.organization, memberships=[membership], on=on, at=at, acting_user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberReassignApi(MembershipObjectMixin, ApiView):
    capability = Capability.MANAGE_MEMBERS
    scope = Scope.MEMBERS_WRITE

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(help_text="The person to take over the seat.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(help_text="The invitation's id.")
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices)
        seat_interval = serializers.CharField()
        status = serializers.CharField()
        expires_at = serializers.DateTimeField()
        takes_seat_of = serializers.IntegerField(
            source="takes_seat_of_id", help_text="The membership whose seat they take over."
        )

    @extend_schema(
        operation_id="members_reassign",
        summary="Give a member's seat to someone else, once they accept",
        description=(
            "Nobody is added without their consent: the person takes over the seat by accepting an "
            "invitation (their pending one, or one e-mailed now with the member's role, an owner's as "
            "a member), and only then does the member leave: no charge, no credit. Answers 202 with "
            "the invitation, the same whether or not the e-mail has an account. 409 `already_member` "
            "for a current member (they have a seat), `reassign_pending` when the seat is promised to "
            "someone else."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={202: OutputSerializer, **error_responses(400, 409, 422, 429)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, organization_id: int, membership_id: int):
        membership = self.get_membership(membership_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        throttling.invitation_sending(request, organization=self.organization)
        at, on = clock.organization_now_and_today(self.organization)
        invitation = seat_services.seat_reassign(
            organization=self.organization,
            membership=membership,
            email=data.validated_data["email"],
            on=on,
            at=at,
            acting_user=request.user,
        )
        return Response(self.OutputSerializer(invitation).data, status=status.HTTP_202_ACCEPTED)
