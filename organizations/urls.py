from django.contrib.auth import views as auth_views
from django.urls import path

from . import dashboard_views, partners_views, views

auth_patterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"
    ),
]

urlpatterns = [
    *auth_patterns,
    path("", views.home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/new/", views.organization_create, name="organization_create"),
    path("o/<slug:slug>/", dashboard_views.overview, name="organization_overview"),
    path("o/<slug:slug>/plan/", dashboard_views.plan_choose, name="dashboard_plan_choose"),
    path("o/<slug:slug>/plan/<slug:code>/", dashboard_views.plan_preview, name="dashboard_plan_preview"),
    path(
        "o/<slug:slug>/plan/<slug:code>/confirm/", dashboard_views.plan_confirm, name="dashboard_plan_confirm"
    ),
    path("o/<slug:slug>/seats/", dashboard_views.seats, name="dashboard_seats"),
    path("o/<slug:slug>/seats/edit/", dashboard_views.seats_edit, name="dashboard_seats_edit"),
    path("o/<slug:slug>/seats/preview/", dashboard_views.seats_preview, name="dashboard_seats_preview"),
    path("o/<slug:slug>/seats/purchase/", dashboard_views.seats_purchase, name="dashboard_seats_purchase"),
    path("o/<slug:slug>/billing/", dashboard_views.billing, name="dashboard_billing"),
    path("o/<slug:slug>/statistics/", dashboard_views.statistics, name="dashboard_statistics"),
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
    path("o/<slug:slug>/settings/", views.organization_settings, name="organization_settings"),
    path("o/<slug:slug>/audit/", views.organization_audit_log, name="organization_audit_log"),
    # Partners and their client organizations (seed 003)
    path("o/<slug:slug>/companies/", partners_views.companies, name="partner_companies"),
    path("o/<slug:slug>/companies/new/", partners_views.company_create, name="partner_company_create"),
    path(
        "o/<slug:slug>/companies/<int:client_id>/manage/",
        partners_views.company_manage,
        name="partner_company_manage",
    ),
    path(
        "o/<slug:slug>/companies/<int:client_id>/handback/",
        partners_views.company_handback,
        name="partner_company_handback",
    ),
    path(
        "o/<slug:slug>/subscription/status/",
        partners_views.subscription_status,
        name="partner_subscription_status",
    ),
    path("o/<slug:slug>/subscription/status/edit/", partners_views.handover, name="partner_handover"),
    path(
        "o/<slug:slug>/subscription/status/resend/",
        partners_views.handover_resend,
        name="partner_handover_resend",
    ),
    path(
        "o/<slug:slug>/subscription/status/handback/",
        partners_views.handback_request,
        name="partner_handback_request",
    ),
    path(
        "o/<slug:slug>/subscription/status/partner/remove/",
        partners_views.partner_remove,
        name="partner_remove",
    ),
]
