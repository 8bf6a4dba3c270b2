"""The project's URLs with views that fail, for tests/web/test_error_pages.py; the error
handlers are the project's own (config/urls.py)."""

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.urls import path

from config.urls import handler403, handler404, handler500
from config.urls import urlpatterns as project_urlpatterns


def database_down(request, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


def forbidden(request, **kwargs):
    raise PermissionDenied


urlpatterns = [
    path("boom/", database_down),
    path("api/v1/boom/", database_down),
    path("scim/v2/boom", database_down),
    path("forbidden/", forbidden),
    path("api/v1/forbidden/", forbidden),
    path("scim/v2/forbidden", forbidden),
    *project_urlpatterns,
]

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]
