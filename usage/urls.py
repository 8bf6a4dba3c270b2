from django.urls import path

from organizations import credentials_views
from organizations.models import Credential

from . import api, views

API_KEYS = {"kind": Credential.Kind.API_KEY}

urlpatterns = [
    path("api/v1/usage/events", api.UsageEventsRecordApi.as_view(), name="api_usage_events"),
    path(
        "api/v1/organizations/<int:organization_id>/entitlements",
        api.EntitlementListApi.as_view(),
        name="api_entitlements",
    ),
    path(
        "api/v1/organizations/<int:organization_id>/entitlements/<str:meter>",
        api.EntitlementDetailApi.as_view(),
        name="api_entitlement",
    ),
    path(
        "api/v1/organizations/<int:organization_id>/usage", api.UsageOverviewApi.as_view(), name="api_usage"
    ),
    path(
        "api/v1/organizations/<int:organization_id>/usage/statistics/<str:series>",
        api.UsageStatisticsApi.as_view(),
        name="api_usage_statistics",
    ),
    path("o/<slug:slug>/api-keys/", credentials_views.credential_page, API_KEYS, name="usage_api_keys"),
    path(
        "o/<slug:slug>/api-keys/<int:credential_id>/revoke/",
        credentials_views.credential_revoke,
        API_KEYS,
        name="usage_api_key_revoke",
    ),
    path("o/<slug:slug>/usage/", views.statistics_moved, name="usage_statistics"),
]
