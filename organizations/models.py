"""The tenant and the people in it.

Every tenant-owned table in every app carries its own `organization` foreign key, so
each query that serves a request can be scoped by it directly.
"""

import secrets
import string

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

CUSTOMER_CODE_ALPHABET = string.ascii_uppercase + string.digits
ADDRESS_LINE_MAX_LENGTH = 100
POSTCODE_MAX_LENGTH = 16
CITY_MAX_LENGTH = 60
# Where the region (state, province) goes on the line with the city, after it.
CITY_REGION_POSTCODE_COUNTRIES = frozenset({"US", "CA", "AU"})


def new_customer_code() -> str:
    """Eight uppercase letters and digits: the prefix of this customer's invoice numbers."""
    return "".join(secrets.choice(CUSTOMER_CODE_ALPHABET) for _ in range(8))


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    legal_name = models.CharField(max_length=200, blank=True)
    # The postal address, in the lengths an invoice prints on one line each.
    address_line1 = models.CharField(max_length=ADDRESS_LINE_MAX_LENGTH, blank=True)
    address_line2 = models.CharField(max_length=ADDRESS_LINE_MAX_LENGTH, blank=True)
    postcode = models.CharField(max_length=POSTCODE_MAX_LENGTH, blank=True)
    city = models.CharField(max_length=CITY_MAX_LENGTH, blank=True)
    region = models.CharField(
        max_length=CITY_MAX_LENGTH, blank=True, help_text="State or province, where used."
    )
    country = models.CharField(max_length=2, default="DK", help_text="ISO 3166-1 alpha-2, decides tax.")
    vat_id = models.CharField(max_length=32, blank=True, help_text="Checked (core.tax_ids): 'DK13585628'.")
    # The last VIES answer for vat_id (core.vies): format_valid (not verified), verified, not_found.
    vat_id_check = models.CharField(max_length=16, blank=True)
    vat_id_checked_on = models.DateField(null=True, blank=True)
    billing_email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="Turns 'now' into billing dates.")
    language = models.CharField(max_length=8, default="en")
    # Days from an invoice's issue to its due date (owners set it; invoices charged to a card
    # at issue are due on receipt instead).
    payment_terms_days = models.PositiveSmallIntegerField(default=14)
    currency = models.CharField(max_length=3, default="EUR")
    customer_code = models.CharField(
        max_length=8, unique=True, default=new_customer_code, help_text="Invoice number prefix."
    )
    is_partner = models.BooleanField(
        default=False, help_text="Manages client organizations (an accountant's firm, seed 003)."
    )
    # Kept by webhooks (webhooks.services): whether any webhook endpoint is active, read from the
    # row the change already holds, so a change of an organization without one (nearly all)
    # announces its events without a query (tests/billing/test_renewal_queries.py).
    webhooks_active = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(customer_code__regex=r"^[A-Z0-9]{8}$"), name="organization_customer_code_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def invoice_name(self) -> str:
        return self.legal_name or self.name

    @property
    def address(self) -> str:
        """The postal address as printed, one line each (documents copy it when issued)."""
        return "\n".join(postal_lines(self))


def postal_lines(organization) -> list[str]:
    """Street lines, then "postcode city" (or "city, region postcode" in North America and
    Australia, with the region there; elsewhere the region on a line of its own)."""
    lines = [organization.address_line1, organization.address_line2]
    if organization.country in CITY_REGION_POSTCODE_COUNTRIES:
        city = ", ".join(part for part in (organization.city, organization.region) if part)
        lines.append(" ".join(part for part in (city, organization.postcode) if part))
    else:
        lines.append(" ".join(part for part in (organization.postcode, organization.city) if part))
        lines.append(organization.region)
    return [line.strip() for line in lines if line and line.strip()]


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    FINANCE = "finance", _("Finance")
    MEMBER = "member", _("Member")


class Membership(models.Model):
    """A person in an organization. Removal keeps the row (and its history) with `removed_at` set."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # The billing interval of the paid seat this member holds on a plan with per-member
    # intervals; blank means an included seat, or a plan whose seats are one pool.
    seat_interval = models.CharField(max_length=8, blank=True, default="")
    joined_at = models.DateTimeField()
    joined_on = models.DateField(help_text="Billing date the member took their seat.")
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(removed_at__isnull=True),
                name="membership_one_active_per_user",
            ),
        ]
        indexes = [models.Index(fields=["organization", "removed_at"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    seat_interval = models.CharField(max_length=8, blank=True, default="")
    # Only a hash of the token is stored; the token itself travels in the e-mailed link.
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    # A seat reassignment (seats.services.seat_reassign): accepting takes over this member's
    # seat, and only then does the member leave (docs/billing.md rule 11).
    takes_seat_of = models.ForeignKey(
        "Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(status="pending"),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization} ({self.status})"


class AuditLogEntry(models.Model):
    """One row per service call that changed something in an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_log")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who, as shown: e-mail or 'system'.")
    # The actor was a partner's person acting for this organization (tenancy.acting_membership):
    # the partner, and its name then, so the log reads "X of Partner acting for Y".
    acting_for_partner = models.ForeignKey(
        "Organization", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acting_partner_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.who} {self.action} {self.target}"

    @property
    def action_text(self) -> str:
        """The action in words, in the active language ("Seats bought"), not its code."""
        from .audit_words import audit_action_text

        return audit_action_text(self.action)

    @property
    def who(self) -> str:
        """The actor as shown: "anna@firm.dk of Firm acting for Client" for a partner's person."""
        if not self.acting_partner_name:
            return self.actor_label
        return _("%(person)s of %(partner)s acting for %(organization)s") % {
            "person": self.actor_label,
            "partner": self.acting_partner_name,
            "organization": self.organization.name,
        }


# Partners and their client organizations (seed 003) ----------------------------------


class Agreement(models.TextChoices):
    """Who pays for a client organization that a partner manages."""

    INTERNAL = "internal", _("Internal (the partner pays)")
    EXTERNAL = "external", _("External (the client pays)")


class PartnerLink(models.Model):
    """A partner organization manages a client organization (`organization`).

    Internal agreement: the client's invoices are addressed to the partner, taxed by its
    country and VAT ID, paid from its credit balance and charged to its card; the partner's
    owners and admins act on the client as owners. External: the client pays itself and the
    partner keeps an accountant's access (finance) until the client's owner removes it.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="partner_links")
    partner = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="client_links")
    agreement = models.CharField(max_length=16, choices=Agreement.choices, default=Agreement.INTERNAL)
    # The client's owner asked to hand billing back to the partner; waits for its acceptance.
    requested_agreement = models.CharField(max_length=16, choices=Agreement.choices, blank=True, default="")
    requested_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="The client's owner removed the access.")

    class Meta:
        ordering = ["organization__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(ended_at__isnull=True),
                name="partner_link_one_active_per_client",
            ),
            models.CheckConstraint(
                condition=~Q(organization=models.F("partner")), name="partner_link_not_self"
            ),
            # Only an external client can drop its partner: under an internal agreement the partner pays.
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(agreement="external"),
                name="partner_link_ends_external",
            ),
        ]
        indexes = [models.Index(fields=["partner", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.partner} manages {self.organization} ({self.agreement})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class AgreementEvent(models.Model):
    """Append-only history of a client's agreement with its partner."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Client created by the partner")
        HANDED_OVER = "handed_over", _("Handed over to the client")
        HANDBACK_REQUESTED = "handback_requested", _("Client asked the partner to pay again")
        HANDBACK_DECLINED = "handback_declined", _("Partner declined to pay again")
        HANDED_BACK = "handed_back", _("Partner pays again")
        ACCESS_REMOVED = "access_removed", _("Client removed the partner's access")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="agreement_events")
    link = models.ForeignKey(PartnerLink, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    agreement = models.CharField(max_length=16, choices=Agreement.choices, help_text="After the event.")
    effective_on = models.DateField(help_text="Billing date (the client's time zone).")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self) -> str:
        return f"{self.effective_on} {self.organization} {self.kind} -> {self.agreement}"


class Scope(models.TextChoices):
    """What an API key may do, chosen when it is made (api.scopes: which operation needs which)."""

    USAGE_WRITE = "usage:write", _("Report usage")
    USAGE_READ = "usage:read", _("Read usage and statistics")
    ENTITLEMENTS_READ = "entitlements:read", _("Check entitlements")
    BILLING_READ = "billing:read", _("Read plans, subscription, invoices, credit notes and billing details")
    BILLING_WRITE = "billing:write", _("Change plan, buy seats, change billing details")
    MEMBERS_READ = "members:read", _("Read members")
    MEMBERS_WRITE = "members:write", _("Invite, change and remove members")
    PARTNERS_READ = "partners:read", _("Read a partner's clients")
    PARTNERS_WRITE = "partners:write", _("Create and hand over a partner's clients")
    UNITS_READ = "units:read", _("Read units such as phone numbers")
    UNITS_WRITE = "units:write", _("Create and delete units such as phone numbers (they are billed)")
    WEBHOOKS_READ = "webhooks:read", _("Read webhook endpoints and deliveries")
    WEBHOOKS_WRITE = "webhooks:write", _("Add and change webhook endpoints, roll secrets, replay deliveries")
    KEYS_READ = "keys:read", _("Read API keys")
    KEYS_WRITE = "keys:write", _("Create and revoke API keys (only with scopes the key holds)")


class Credential(models.Model):
    """A bearer credential of one organization: an API key (the SaaS's machine client reports
    usage and asks for entitlements) or a SCIM token (its identity provider provisions people).

    Only the SHA-256 of the secret is stored; the secret is shown once, when made
    (organizations.credentials). A partner's person who made one acting for the organization is
    recorded in `created_as_partner`: it is revoked when the partner leaves, unless an owner of
    the client keeps it (billing.partner_exit).
    """

    class Kind(models.TextChoices):
        API_KEY = "api_key", _("API key")
        SCIM_TOKEN = "scim_token", _("SCIM token")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=20, unique=True, help_text="Shown to tell credentials apart, e.g. sbk_1a2b3c4d5e6f."
    )
    secret_hash = models.CharField(max_length=64, unique=True, help_text="sha256 hex of the whole secret.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The partner whose person made the credential while acting for the organization; null when
    # its own people made it.
    created_as_partner = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The client's owner who kept a partner's credential when the partner left: from then on a
    # SCIM token grants roles as this person may (seats.identity.provisioning.roles_grantable_with).
    kept_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kept_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # API keys: the `Scope`s it holds, space-separated as OAuth writes them ("usage:write
    # entitlements:read"); read on every request from the one credential query. Empty for SCIM
    # tokens, whose protocol is their scope.
    scopes = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "kind", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes.split()

    @property
    def grantor(self):
        """Whose rights a SCIM token's role grants are bounded by: who kept it, else who made it."""
        return self.kept_by or self.created_by


class IdempotentRequest(models.Model):
    """A write to the API sent with an `Idempotency-Key` header, and the answer it got
    (api.idempotency): the same key and request within 24 hours get the same answer again
    instead of running twice.

    The row is inserted before the write runs, under the unique (organization, key): of
    concurrent requests with one key exactly one inserts it and runs; `response_status` stays
    null until its answer is stored.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="sha256 hex of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotent_request_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status or 'running'})"
