from django.contrib import admin

from .models import PendingCharge, Plan, PlanLimit, PlanSeatPrice, SeatItem, SeatLedgerEntry, Subscription


class PlanSeatPriceInline(admin.TabularInline):
    model = PlanSeatPrice
    extra = 0


class PlanLimitInline(admin.TabularInline):
    model = PlanLimit
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "interval",
        "currency",
        "base_price_minor",
        "seat_price_minor",
        "included_seats",
        "max_seats",
        "seat_mode",
        "is_public",
    )
    list_filter = ("interval", "seat_mode", "is_public", "currency")
    search_fields = ("code", "name")
    inlines = [PlanSeatPriceInline, PlanLimitInline]


class SeatItemInline(admin.TabularInline):
    model = SeatItem
    extra = 0
    readonly_fields = ("interval", "quantity", "period_start", "period_end")
    can_delete = False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "organization",
        "plan",
        "status",
        "current_period_start",
        "current_period_end",
        "committed_seats",
        "cancel_at_period_end",
    )
    list_filter = ("status", "plan", "source", "organization")
    search_fields = ("organization__name", "organization__slug", "organization__customer_code")
    readonly_fields = ("anchor", "current_period_start", "current_period_end", "created_at")
    inlines = [SeatItemInline]


@admin.register(SeatLedgerEntry)
class SeatLedgerEntryAdmin(admin.ModelAdmin):
    list_display = (
        "organization",
        "effective_on",
        "interval",
        "delta",
        "quantity_after",
        "total_seats_after",
        "reason",
        "actor_label",
    )
    list_filter = ("reason", "organization")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PendingCharge)
class PendingChargeAdmin(admin.ModelAdmin):
    list_display = ("organization", "description", "created_on", "invoice_on", "invoice")
    list_filter = ("organization",)
    readonly_fields = [f.name for f in PendingCharge._meta.fields]
