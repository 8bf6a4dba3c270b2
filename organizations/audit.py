"""Writing the audit log: services call `audit_record` inside their own transaction."""

import datetime as dt

from .models import AuditLogEntry, Organization


def audit_record(
    *,
    organization: Organization,
    actor,
    action: str,
    at: dt.datetime,
    target: str = "",
    details: dict | None = None,
) -> AuditLogEntry:
    label = getattr(actor, "email", "") or getattr(actor, "username", "") or "system"
    return AuditLogEntry.objects.create(
        organization=organization,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=label,
        action=action,
        target=target,
        details=details or {},
        at=at,
    )
