"""The operator's catalogue of AI model prices (what "cost by action" on the statistics page reads)."""

from django.contrib import admin

from .models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model", "currency", "price_per_1k_tokens_minor")
    list_filter = ("currency",)
    search_fields = ("model",)
