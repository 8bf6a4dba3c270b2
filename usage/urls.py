"""The usage pages: API keys (the organization's credentials page, kind api_key) and the old
statistics address (the REST endpoints are in api/)."""

from django.urls import path

from organizations import credentials_views
from organizations.models import Credential

from . import views

API_KEYS = {"kind": Credential.Kind.API_KEY}

urlpatterns = [
    path("o/<slug:slug>/api-keys/", credentials_views.credential_page, API_KEYS, name="usage_api_keys"),
    path(
        "o/<slug:slug>/api-keys/<int:credential_id>/revoke/",
        credentials_views.credential_revoke,
        API_KEYS,
        name="usage_api_key_revoke",
    ),
    path("o/<slug:slug>/usage/", views.statistics_moved, name="usage_statistics"),
]
