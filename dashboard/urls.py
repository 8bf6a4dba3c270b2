"""The dashboard's pages: overview, plan dialog, seat purchase, billing, statistics, partner pages."""

from django.urls import path

from . import partner_views, unit_views, views

urlpatterns = [
    path("o/new/", views.organization_create, name="organization_create"),
    path("o/<slug:slug>/", views.overview, name="organization_overview"),
    path("o/<slug:slug>/plan/", views.plan_choose, name="dashboard_plan_choose"),
    path("o/<slug:slug>/plan/<slug:code>/", views.plan_preview, name="dashboard_plan_preview"),
    path("o/<slug:slug>/plan/<slug:code>/confirm/", views.plan_confirm, name="dashboard_plan_confirm"),
    path("o/<slug:slug>/seats/", views.seats, name="dashboard_seats"),
    path("o/<slug:slug>/seats/edit/", views.seats_edit, name="dashboard_seats_edit"),
    path("o/<slug:slug>/seats/preview/", views.seats_preview, name="dashboard_seats_preview"),
    path("o/<slug:slug>/seats/purchase/", views.seats_purchase, name="dashboard_seats_purchase"),
    path(
        "o/<slug:slug>/units/<slug:code>/preview/", unit_views.units_preview, name="dashboard_units_preview"
    ),
    path("o/<slug:slug>/units/<slug:code>/create/", unit_views.units_create, name="dashboard_units_create"),
    path(
        "o/<slug:slug>/units/<slug:code>/<int:unit_id>/delete/",
        unit_views.units_delete,
        name="dashboard_units_delete",
    ),
    path("o/<slug:slug>/billing/", views.billing, name="dashboard_billing"),
    path("o/<slug:slug>/billing/cancel/", views.billing_cancel, name="dashboard_billing_cancel"),
    path("o/<slug:slug>/billing/resume/", views.billing_resume, name="dashboard_billing_resume"),
    path(
        "o/<slug:slug>/billing/switch-to-web/",
        views.billing_switch_to_web,
        name="dashboard_billing_switch_to_web",
    ),
    path("o/<slug:slug>/billing/upcoming/", views.billing_upcoming, name="dashboard_billing_upcoming"),
    path("o/<slug:slug>/statistics/", views.statistics, name="dashboard_statistics"),
    # Partners and their client organizations (seed 003)
    path("o/<slug:slug>/companies/", partner_views.companies, name="partner_companies"),
    path("o/<slug:slug>/companies/new/", partner_views.company_create, name="partner_company_create"),
    path(
        "o/<slug:slug>/companies/<int:client_id>/manage/",
        partner_views.company_manage,
        name="partner_company_manage",
    ),
    path(
        "o/<slug:slug>/companies/<int:client_id>/handback/",
        partner_views.company_handback,
        name="partner_company_handback",
    ),
    path(
        "o/<slug:slug>/subscription/status/",
        partner_views.subscription_status,
        name="partner_subscription_status",
    ),
    path("o/<slug:slug>/subscription/status/edit/", partner_views.handover, name="partner_handover"),
    path(
        "o/<slug:slug>/subscription/status/resend/",
        partner_views.handover_resend,
        name="partner_handover_resend",
    ),
    path(
        "o/<slug:slug>/subscription/status/handback/",
        partner_views.handback_request,
        name="partner_handback_request",
    ),
    path(
        "o/<slug:slug>/subscription/status/partner/remove/",
        partner_views.partner_remove,
        name="partner_remove",
    ),
]
