from django.contrib import admin
from django.db.models import Q

from .models import OutboxMessage
from .relay import FAILING_AFTER_ATTEMPTS


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("failing", f"Failing ({FAILING_AFTER_ATTEMPTS}+ attempts, not done)"),
            ("pending", "Not done"),
            ("done", "Done"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(done_at__isnull=True, attempts__gte=FAILING_AFTER_ATTEMPTS)
        if self.value() == "pending":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(~Q(done_at=None))
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task_name",
        "idempotency_key",
        "attempts",
        "due_at",
        "sent_at",
        "done_at",
        "last_error",
    ]
    list_filter = [StateFilter, "task_name"]
    search_fields = ["idempotency_key", "task_name", "last_error"]
    ordering = ["-id"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

    def has_add_permission(self, request):
        return False
