"""The members page: who occupies the organization's seats, invitations, reassigning a seat."""

from django.urls import path

from . import views

urlpatterns = [
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/<slug:slug>/members/", views.organization_members, name="organization_members"),
    path("o/<slug:slug>/members/invite/", views.member_invite, name="member_invite"),
    path(
        "o/<slug:slug>/members/<int:membership_id>/role/",
        views.membership_role_change,
        name="membership_role_change",
    ),
    path(
        "o/<slug:slug>/members/<int:membership_id>/remove/", views.membership_remove, name="membership_remove"
    ),
    path("o/<slug:slug>/members/<int:membership_id>/reassign/", views.seat_reassign, name="seat_reassign"),
    path(
        "o/<slug:slug>/members/<int:membership_id>/interval/",
        views.membership_interval_change,
        name="membership_interval_change",
    ),
    path(
        "o/<slug:slug>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "o/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
]
