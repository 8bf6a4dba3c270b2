"""Staff views of organizations.

Memberships, invitations and the audit log are read-only here: joining, leaving and
role changes go through the services (seats, last-owner rule, audit row). Organizations
can be edited (support fixes a typo in billing details); each save writes an audit row.
"""

from django.contrib import admin
from django.db import transaction

from core import clock

from .audit import audit_record
from .models import AuditLogEntry, Invitation, Membership, Organization


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "seat_interval", "joined_on", "removed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "country", "vat_id", "billing_email", "customer_code", "created_at")
    list_filter = ("country", "currency")
    search_fields = ("name", "slug", "legal_name", "vat_id", "billing_email", "customer_code")
    readonly_fields = ("customer_code", "created_at")
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None):
        # Invoices and the audit log must outlive mistakes; close an organization through its services.
        return False

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            organization=obj,
            actor=request.user,
            action="organization.changed_in_admin" if change else "organization.created_in_admin",
            at=clock.now(),
            target=obj.slug,
            details={name: str(form.cleaned_data.get(name)) for name in form.changed_data},
        )


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "organization", "role", "seat_interval", "joined_on", "removed_at")
    list_filter = ("organization", "role", ("removed_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "user__username", "organization__name", "organization__slug")
    list_select_related = ("user", "organization")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "organization", "role", "status", "invited_by", "sent_at", "expires_at")
    list_filter = ("organization", "status", "role")
    search_fields = ("email", "organization__name", "organization__slug")
    list_select_related = ("organization", "invited_by")
    exclude = ("token_hash",)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "organization", "who", "action", "target")
    list_filter = ("organization", "action")
    search_fields = ("actor_label", "action", "target", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    date_hierarchy = "at"
