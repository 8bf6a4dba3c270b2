from django.contrib import admin

from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["organization", "url", "active", "created_at"]
    list_filter = ["active"]
    exclude = ["secret", "previous_secret"]
    readonly_fields = [
        "organization",
        "url",
        "events",
        "created_at",
        "disabled_at",
        "previous_secret_expires_at",
    ]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "response_status", "next_attempt_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
