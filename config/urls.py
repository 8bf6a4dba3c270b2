from django.contrib import admin
from django.urls import include, path
from django.views import View
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView


class ApiDocsView(SpectacularSwaggerView):
    # The page's template renders only the page's own context: DRF's answer to OPTIONS (the
    # view's metadata) made it fail with a 500. OPTIONS names the allowed methods, as any
    # Django view's does.
    def options(self, request, *args, **kwargs):
        return View.options(self, request, *args, **kwargs)


class ApiRedocView(SpectacularRedocView):
    template_name = "api/redoc.html"

    def options(self, request, *args, **kwargs):  # as ApiDocsView.options
        return View.options(self, request, *args, **kwargs)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", ApiRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # First: the API's ingestion and entitlement checks are the SaaS's hot path.
    path("api/v1/", include("api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the switcher in base.html
    path("", include("seats.identity.urls")),  # before organizations: its login/ honours "Require SSO"
    path("", include("organizations.urls")),
    path("", include("seats.urls")),
    path("", include("dashboard.urls")),
    path("", include("usage.urls")),
    path("", include("invoices.urls")),
    path("", include("payments.urls")),
    path("", include("webhooks.urls")),
]

handler500 = "config.errors.server_error"
handler404 = "config.errors.page_not_found"
handler403 = "config.errors.permission_denied"
