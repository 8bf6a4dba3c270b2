"""What a request that fails outside a view's own answer gets (handler500/404/403 in config/urls.py).

Three readers, three formats: the API's clients get its one error body `{"code", "message",
"field"}` (api/base.py), SCIM clients RFC 7644's error schema, and people a page that says
whether their action happened and whether to try again. None of them reads the database: a
500 may be the database being down.
"""

from django.http import HttpResponse, JsonResponse
from django.template import loader

SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_CONTENT_TYPE = "application/scim+json"  # as seats/identity/scim_api.py answers

# status -> (the API's code, the message for the API's and SCIM's clients)
MESSAGES = {
    500: (
        "server_error",
        "The server failed while handling this request; it may or may not have taken effect. "
        "Read the resource again before retrying.",
    ),
    404: ("not_found", "No such resource."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    "csrf": (
        "csrf_failed",
        "The request's CSRF token is missing or wrong; nothing was changed. "
        "Read the page again for a fresh token and retry.",
    ),
}
TEMPLATES = {500: "500.html", 404: "404.html", 403: "403.html", "csrf": "403_csrf.html"}


def _answer(request, status: int, kind: int | str | None = None) -> HttpResponse:
    """`kind`: which message (MESSAGES) and page (TEMPLATES); the status by default."""
    kind = status if kind is None else kind
    code, message = MESSAGES[kind]
    path = request.path
    if path.startswith("/api/"):
        return JsonResponse({"code": code, "message": message, "field": None}, status=status)
    if path.startswith("/scim/"):
        body = {"schemas": [SCIM_ERROR_SCHEMA], "status": str(status), "detail": message}
        return JsonResponse(body, status=status, content_type=SCIM_CONTENT_TYPE)
    # No request in the context: context processors would read the user and organizations.
    return HttpResponse(loader.get_template(TEMPLATES[kind]).render(), status=status)


def server_error(request):
    return _answer(request, 500)


def page_not_found(request, exception):
    return _answer(request, 404)


def permission_denied(request, exception):
    return _answer(request, 403)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form posted with an expired or missing token gets our page (the
    form expired, submit it again), not Django's bare "Forbidden (403)"."""
    return _answer(request, 403, "csrf")
