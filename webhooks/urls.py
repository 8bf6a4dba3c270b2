from django.urls import path

from . import views

urlpatterns = [
    path("o/<slug:slug>/webhooks/", views.endpoint_list, name="webhook_endpoints"),
    path("o/<slug:slug>/webhooks/<int:endpoint_id>/", views.endpoint_detail, name="webhook_endpoint"),
    path("o/<slug:slug>/webhooks/<int:endpoint_id>/roll/", views.endpoint_roll, name="webhook_endpoint_roll"),
    path(
        "o/<slug:slug>/webhooks/<int:endpoint_id>/active/",
        views.endpoint_active,
        name="webhook_endpoint_active",
    ),
    path(
        "o/<slug:slug>/webhooks/deliveries/<int:delivery_id>/replay/",
        views.delivery_replay,
        name="webhook_delivery_replay",
    ),
]
