"""The usage pages: API keys and the old statistics address (the REST endpoints are in api/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("o/<slug:slug>/api-keys/", views.api_keys, name="usage_api_keys"),
    path("o/<slug:slug>/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="usage_api_key_revoke"),
    path("o/<slug:slug>/usage/", views.statistics_moved, name="usage_statistics"),
]
