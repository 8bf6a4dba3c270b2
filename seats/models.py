"""Identity that is gated on seats: single sign-on, SCIM provisioning, the waiting list, seat alerts.

These live in `seats` rather than `organizations` because every path into an
organization here (a first SSO sign-in, a SCIM create or reactivation, admitting people
who waited) takes a seat through `seats.services`, and `organizations` imports no
other app. Every table carries its own `organization` foreign key (tenancy rule).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from organizations.models import Organization, Role


class SsoConnection(models.Model):
    """An organization's OpenID Connect identity provider (one per organization).

    The endpoints come from the issuer's discovery document when owners save the form.
    The client secret is stored encrypted (Fernet, key derived from SECRET_KEY) and is
    never shown back.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso_connection")
    issuer = models.URLField(max_length=300)
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField(blank=True)
    authorization_endpoint = models.URLField(max_length=500)
    token_endpoint = models.URLField(max_length=500)
    userinfo_endpoint = models.URLField(max_length=500)
    jwks_uri = models.URLField(max_length=500)
    signing_algorithm = models.CharField(max_length=16, default="RS256")
    require_sso = models.BooleanField(
        default=False, help_text="Password login refuses this organization's members (owners excepted)."
    )
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The partner whose person made it, or last changed it, while acting for the organization;
    # null when its own people did. Such a connection is turned off when the partner leaves.
    created_as_partner = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_as_partner = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.organization} via {self.issuer}"

    @property
    def partner(self) -> Organization | None:
        """The partner that made or last changed it, if one did."""
        return self.updated_as_partner or self.created_as_partner


class SsoDomain(models.Model):
    """An e-mail domain an organization claims, and its proof by a DNS TXT record.

    A claim starts unverified with a random `verification_token`; owners publish it as
    a TXT record (`seats.identity.domains`) and verifying sets `verified_at`. Only a
    verified domain routes sign-ins, lets a provider vouch for its addresses and lets
    SCIM or single sign-on create logins. Several organizations may hold pending claims
    of one domain; the first to prove it wins, and the other claims are removed. A
    verified domain belongs to one organization only (the partial unique constraint).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253, help_text="Lowercase, e.g. example.com.")
    verification_token = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "domain"], name="sso_domain_one_claim_per_organization"
            ),
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(verified_at__isnull=False),
                name="sso_domain_verified_by_one_organization",
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class SsoIdentity(models.Model):
    """The provider's subject (`sub`) of a person, so later sign-ins match by it, not by e-mail."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    last_sign_in_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "subject"], name="sso_identity_one_per_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} in {self.organization_id}"


class ScimUser(models.Model):
    """A person the organization's identity provider provisioned (a SCIM User resource).

    `attributes` holds the resource as last written (without id, meta, groups and
    password); the columns beside it are what the portal queries. An active SCIM user
    holds an active membership; an inactive one holds none.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(Lower("user_name"), "organization", name="scim_user_one_per_user_name"),
            models.UniqueConstraint(fields=["organization", "user"], name="scim_user_one_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} in {self.organization_id}"


class ScimGroup(models.Model):
    """A SCIM Group. A group named after a role (Owners, Admins, Finance, Members) gives its
    members that role; other groups are kept and listed but grant nothing."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    member_ids = models.JSONField(default=list, help_text="scim_id strings of member Users and Groups.")
    attributes = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("display_name"), "organization", name="scim_group_one_per_display_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} in {self.organization_id}"


class SeatWaiter(models.Model):
    """A person who could not join for want of a seat, until owners buy seats and admit them."""

    class Source(models.TextChoices):
        SSO = "sso", _("Single sign-on")
        SCIM = "scim", _("SCIM provisioning")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    refusal_code = models.CharField(max_length=32, help_text="seat_unavailable or max_seats_exceeded.")
    # What a SCIM create sent, so admitting the person provisions the same SCIM user.
    scim_attributes = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    first_requested_at = models.DateTimeField()
    last_requested_at = models.DateTimeField()

    class Meta:
        ordering = ["first_requested_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "email"], name="seat_waiter_one_per_email"),
        ]

    def __str__(self) -> str:
        return f"{self.email} waiting for {self.organization_id}"


class SeatWaitingNotice(models.Model):
    """Sent-marker: owners were e-mailed the waiting list on this organization-local day."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    on = models.DateField()
    waiting = models.PositiveIntegerField(help_text="How many people the e-mail listed.")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-on"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "on"], name="seat_waiting_notice_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.on} ({self.waiting})"


class SeatAlert(models.Model):
    """Owners are e-mailed once when free seats fall to `free_seats_at` or fewer.

    `below` remembers the side of the line the organization was on when last checked;
    the e-mail goes out on the crossing from above to at-or-below, and the alert re-arms
    when free seats rise above the line again.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="seat_alert")
    free_seats_at = models.PositiveIntegerField()
    below = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    set_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.organization_id}: alert at {self.free_seats_at} free"
