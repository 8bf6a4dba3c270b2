"""Writing the audit log: services call `audit_record` inside their own transaction.

A partner's person acting for a client (tenancy.acting_membership) is recorded as such in
the client's log, whatever the service: `audit_record` asks the tenancy rule itself, so the
entry reads "anna@firm.dk of Firm acting for Client" (AuditLogEntry.who) and keeps the
partner in `acting_for_partner`.
"""

import datetime as dt

from .models import AuditLogEntry, Organization
from .tenancy import acting_partner


def actor_label(actor) -> str:
    return getattr(actor, "email", "") or getattr(actor, "username", "") or "system"


def audit_record(
    *,
    organization: Organization,
    actor,
    action: str,
    at: dt.datetime,
    target: str = "",
    details: dict | None = None,
) -> AuditLogEntry:
    person = actor if getattr(actor, "pk", None) else None
    partner = acting_partner(person, organization.pk) if person is not None else None
    return AuditLogEntry.objects.create(
        organization=organization,
        actor=person,
        actor_label=actor_label(actor),
        acting_for_partner=partner,
        acting_partner_name=partner.name[:200] if partner else "",
        action=action,
        target=target,
        details=details or {},
        at=at,
    )
