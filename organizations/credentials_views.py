"""The owners' page of an organization's credentials, one kind at a time: API keys at
`/o/<slug>/api-keys/`, SCIM tokens at `/o/<slug>/identity/scim/` (the URLs pass `kind`).

MANAGE_API_KEYS is the owners' capability for machine credentials of both kinds.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core import clock

from . import credentials
from .errors import RuleViolation
from .models import Credential, Scope
from .tenancy import Capability
from .views_base import org_view

Kind = Credential.Kind

PAGE_URL_NAMES = {Kind.API_KEY: "usage_api_keys", Kind.SCIM_TOKEN: "identity_scim_settings"}
REVOKE_URL_NAMES = {Kind.API_KEY: "usage_api_key_revoke", Kind.SCIM_TOKEN: "identity_scim_revoke"}


PARTNER_SCOPES = frozenset({Scope.PARTNERS_READ, Scope.PARTNERS_WRITE})


def offered_scopes(organization, chosen) -> list[tuple[str, str, bool]]:
    """(scope, label, checked) for the form: the partner scopes only for a partner."""
    return [
        (scope.value, scope.label, scope.value in chosen)
        for scope in Scope
        if organization.is_partner or scope not in PARTNER_SCOPES
    ]


@org_view(Capability.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def credential_page(request, slug, kind):
    """List the credentials of `kind`; POST creates one and shows its secret on this response only."""
    created, secret, error, error_field, name, chosen = None, None, None, "", "", []
    if request.method == "POST":
        name = request.POST.get("name", "")
        chosen = request.POST.getlist("scopes") if kind == Kind.API_KEY else []
        try:
            created, secret = credentials.credential_create(
                organization=request.organization,
                kind=kind,
                name=name,
                at=clock.now(),
                acting_user=request.user,
                scopes=chosen,
            )
            name, chosen = "", []
        except RuleViolation as exc:
            error, error_field = exc.message, exc.field
    context = {
        "kind": kind,
        "credentials": credentials.credential_list(organization=request.organization, kind=kind),
        "created": created,
        "secret": secret,
        "error": error,
        "error_field": error_field,
        "name": name,
        "scopes": offered_scopes(request.organization, chosen) if kind == Kind.API_KEY else [],
        "revoke_url_name": REVOKE_URL_NAMES[kind],
        "scim_base_url": request.build_absolute_uri("/scim/v2/") if kind == Kind.SCIM_TOKEN else "",
    }
    response = render(request, "organizations/credentials.html", context, status=400 if error else 200)
    response["Cache-Control"] = "no-store"  # the page may carry a secret shown once
    return response


@org_view(Capability.MANAGE_API_KEYS)
@require_POST
def credential_revoke(request, slug, kind, credential_id):
    try:
        credential = credentials.credential_revoke(
            organization=request.organization,
            kind=kind,
            credential_id=credential_id,
            at=clock.now(),
            acting_user=request.user,
        )
    except RuleViolation as exc:
        raise Http404(exc.message) from None
    if kind == Kind.SCIM_TOKEN:
        message = _("Token %(prefix)s… revoked: requests with it fail from now on.")
    else:
        message = _("Key %(prefix)s… revoked: requests with it now get 401.")
    messages.success(request, message % {"prefix": credential.prefix})
    return redirect(PAGE_URL_NAMES[kind], slug=slug)
