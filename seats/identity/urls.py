"""URLs of single sign-on, SCIM and the waiting list.

config/urls.py includes these before organizations.urls, so `login/` here (password
login that honours "Require SSO") is the one that answers; the name stays `login`.
"""

from django.urls import path, re_path

from organizations import credentials_views
from organizations.models import Credential

from . import scim_api, views

SCIM_TOKENS = {"kind": Credential.Kind.SCIM_TOKEN}

scim_patterns = [
    path(
        "scim/v2/ServiceProviderConfig", scim_api.service_provider_config, name="scim_service_provider_config"
    ),
    path("scim/v2/Schemas", scim_api.schemas, name="scim_schemas"),
    path("scim/v2/Schemas/<str:schema_id>", scim_api.schema, name="scim_schema"),
    path("scim/v2/ResourceTypes", scim_api.resource_types, name="scim_resource_types"),
    path("scim/v2/ResourceTypes/<str:name>", scim_api.resource_type, name="scim_resource_type"),
    path("scim/v2/.search", scim_api.search, name="scim_search"),
    path("scim/v2/<str:endpoint>", scim_api.collection, name="scim_collection"),
    path("scim/v2/<str:endpoint>/<str:scim_id>", scim_api.resource, name="scim_resource"),
    re_path(r"^scim/v2/(?P<rest>.*)$", scim_api.not_found, name="scim_not_found"),
]

urlpatterns = [
    path("login/", views.login, name="login"),
    path("sso/", views.sso_find, name="identity_sso_find"),
    path("sso/callback/", views.sso_callback, name="identity_sso_callback"),
    path("login/sso-link/", views.sso_link, name="identity_sso_link"),
    path("login/sso-switch/", views.sso_switch, name="identity_sso_switch"),
    # Public (anyone may start a sign-in, by POST), hence not a `slug` keyword: see views.sso_start.
    path("sso/<slug:organization>/", views.sso_start, name="identity_sso_start"),
    path("o/<slug:slug>/identity/sso/", views.sso_settings, name="identity_sso_settings"),
    path("o/<slug:slug>/identity/sso/remove/", views.sso_remove, name="identity_sso_remove"),
    path("o/<slug:slug>/identity/sso/domains/", views.sso_domain_add, name="identity_sso_domain_add"),
    path(
        "o/<slug:slug>/identity/sso/domains/<int:domain_id>/verify/",
        views.sso_domain_verify,
        name="identity_sso_domain_verify",
    ),
    path(
        "o/<slug:slug>/identity/sso/domains/<int:domain_id>/remove/",
        views.sso_domain_remove,
        name="identity_sso_domain_remove",
    ),
    path(
        "o/<slug:slug>/identity/scim/",
        credentials_views.credential_page,
        SCIM_TOKENS,
        name="identity_scim_settings",
    ),
    path(
        "o/<slug:slug>/identity/scim/<int:credential_id>/revoke/",
        credentials_views.credential_revoke,
        SCIM_TOKENS,
        name="identity_scim_revoke",
    ),
    path("o/<slug:slug>/seats/waiting/", views.waiting_list, name="identity_waiting"),
    path(
        "o/<slug:slug>/seats/waiting/<int:waiter_id>/dismiss/",
        views.waiting_dismiss,
        name="identity_waiting_dismiss",
    ),
    path("o/<slug:slug>/seats/alert/", views.seat_alert, name="identity_seat_alert"),
    *scim_patterns,
]
