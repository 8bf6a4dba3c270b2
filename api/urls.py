"""/api/v1/: every REST endpoint (config.urls includes this once)."""

from django.urls import include, path
from django.urls.resolvers import URLPattern

from api import documents, keys, members, organization, partners, subscription, units, usage, webhooks

organization_patterns = [
    path("billing-details/", organization.BillingDetailsApi.as_view(), name="api_billing_details"),
    path("plans/", subscription.PlanListApi.as_view(), name="api_plans"),
    path("subscription/", subscription.SubscriptionDetailApi.as_view(), name="api_subscription"),
    path(
        "subscription/plan-change/preview",
        subscription.PlanChangePreviewApi.as_view(),
        name="api_plan_change_preview",
    ),
    path("subscription/plan-change", subscription.PlanChangeApi.as_view(), name="api_plan_change"),
    path("seats/preview", subscription.SeatPurchasePreviewApi.as_view(), name="api_seats_preview"),
    path("seats/", subscription.SeatPurchaseApi.as_view(), name="api_seats_purchase"),
    path("units/preview", units.UnitCreatePreviewApi.as_view(), name="api_units_preview"),
    path("units/", units.UnitListCreateApi.as_view(), name="api_units"),
    path("units/<int:unit_id>/", units.UnitDetailApi.as_view(), name="api_unit"),
    path("members/", members.MemberListInviteApi.as_view(), name="api_members"),
    path("members/<int:membership_id>/", members.MemberDetailApi.as_view(), name="api_member"),
    path(
        "members/<int:membership_id>/reassign",
        members.MemberReassignApi.as_view(),
        name="api_member_reassign",
    ),
    path("invoices/", documents.InvoiceListApi.as_view(), name="api_invoices"),
    path("invoices/<int:invoice_id>/", documents.InvoiceDetailApi.as_view(), name="api_invoice"),
    path("credit-notes/", documents.CreditNoteListApi.as_view(), name="api_credit_notes"),
    path(
        "credit-notes/<int:credit_note_id>/", documents.CreditNoteDetailApi.as_view(), name="api_credit_note"
    ),
    path("credit-balance/", documents.CreditBalanceDetailApi.as_view(), name="api_credit_balance"),
    path("webhook-endpoints/", webhooks.WebhookEndpointListApi.as_view(), name="api_webhook_endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>/",
        webhooks.WebhookEndpointDetailApi.as_view(),
        name="api_webhook_endpoint",
    ),
    path(
        "webhook-endpoints/<int:endpoint_id>/roll-secret",
        webhooks.WebhookEndpointSecretRollApi.as_view(),
        name="api_webhook_endpoint_roll_secret",
    ),
    path("webhook-deliveries/", webhooks.WebhookDeliveryListApi.as_view(), name="api_webhook_deliveries"),
    path(
        "webhook-deliveries/<int:delivery_id>/replay",
        webhooks.WebhookDeliveryReplayApi.as_view(),
        name="api_webhook_delivery_replay",
    ),
    path("api-keys/", keys.ApiKeyListCreateApi.as_view(), name="api_keys"),
    path("api-keys/<int:key_id>/", keys.ApiKeyDetailApi.as_view(), name="api_key"),
]

# A partner's client organizations (seed 003): only for partner organizations (others get
# 404), so their roles are tested in tests/partners rather than in the table of
# tests/billing/test_api.py, which covers organization_patterns.
partner_patterns = [
    path("clients/", partners.ClientListCreateApi.as_view(), name="api_partner_clients"),
    path(
        "clients/<int:client_id>/subscription/",
        partners.ClientSubscriptionApi.as_view(),
        name="api_partner_client_subscription",
    ),
    path(
        "clients/<int:client_id>/handover/preview",
        partners.ClientHandoverPreviewApi.as_view(),
        name="api_partner_client_handover_preview",
    ),
    path(
        "clients/<int:client_id>/handover",
        partners.ClientHandoverApi.as_view(),
        name="api_partner_client_handover",
    ),
]

# First: ingestion and entitlement checks are the SaaS's hot path, and every pattern tried
# before a match costs each request.
usage_patterns = [
    path("usage/events", usage.UsageEventsRecordApi.as_view(), name="api_usage_events"),
    path(
        "organizations/<int:organization_id>/entitlements",
        usage.EntitlementListApi.as_view(),
        name="api_entitlements",
    ),
    path(
        "organizations/<int:organization_id>/entitlements/<str:meter>",
        usage.EntitlementDetailApi.as_view(),
        name="api_entitlement",
    ),
    path("organizations/<int:organization_id>/usage", usage.UsageOverviewApi.as_view(), name="api_usage"),
    path(
        "organizations/<int:organization_id>/usage/statistics/<str:series>",
        usage.UsageStatisticsApi.as_view(),
        name="api_usage_statistics",
    ),
]


def without_trailing_slashes(patterns: list[URLPattern]) -> list[URLPattern]:
    """Each path as published, without a trailing slash (as Redocly's recommended rules ask),
    and, for a path first published with one, that address too: clients written against it
    keep working. The schema leaves those out (api.schema.published_paths_only); they have no
    name, so reverse() gives the published path."""
    published = []
    for pattern in patterns:
        route = str(pattern.pattern)
        if not route.endswith("/"):
            published.append(pattern)
            continue
        published.append(path(route.rstrip("/"), pattern.callback, name=pattern.name))
        published.append(path(route, pattern.callback))
    return published


urlpatterns = [
    *usage_patterns,
    path("organizations/<int:organization_id>/", include(without_trailing_slashes(organization_patterns))),
    path("organizations/<int:organization_id>/", include(without_trailing_slashes(partner_patterns))),
]
