"""Usage metering: raw usage events, their rollups, and the model price catalogue (API keys
are organizations.models.Credential).

Counting once: `UsageEventKey` holds one row per (organization, event_id), forever; an event
is counted only when its key row is new. The raw `UsageEvent` table is partitioned by month
of `occurred_at` on PostgreSQL (see migration 0001), and a unique index on a partitioned
table must contain the partition key, so the once-forever uniqueness lives in the key table.

Pages and entitlement checks read the rollups (`UsagePeriodTotal`, `UsageCounter`,
`UsageDailyTotal`), never the raw events; the rollups are written in the same transaction
as the events and `manage.py usage_rebuild` recomputes them from the raw events.
"""

from django.db import models
from django.db.models import Q

from organizations.models import Organization


class ReportedMeter(models.TextChoices):
    """The meters the SaaS reports; seats are derived from the seats app and never reported."""

    AI_TOKENS = "ai_tokens", "AI tokens"
    DOCUMENTS = "documents", "Documents / products"
    AGENTS = "agents", "Agents"


class UsageEventKey(models.Model):
    """One row per event id an organization ever sent: the reason a replay counts once.

    Like `UsageEvent`, no database foreign key: its check ran once per ingested event (a
    thousand key-share locks on the organization row per batch). The primary key, which
    starts with organization_id, serves lookups by organization, so no second index. On
    PostgreSQL event_id compares byte by byte (COLLATE "C", migration 0003).
    """

    pk = models.CompositePrimaryKey("organization_id", "event_id")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    event_id = models.CharField(max_length=128)

    def __str__(self) -> str:
        return f"{self.organization_id}:{self.event_id}"


class UsageEvent(models.Model):
    """A raw usage event as received. On PostgreSQL: partitioned by month of `occurred_at`.

    `quantity` is tokens for ai_tokens (> 0) and a change of the count for documents and
    agents (+ created, - deleted). No database foreign key on `organization`: a per-row
    check would cost every ingested event a lookup. A row is stored in the transaction that
    claimed its key in `UsageEventKey`, by COPY on PostgreSQL.
    """

    # The natural key, for Django. On PostgreSQL it is not a constraint (migration 0005): the
    # key table already makes (organization, event_id) unique, and a unique 40-byte entry per
    # stored event cost more than the rest of its COPY. The one index is on organization_id,
    # what a rebuild reads an organization's events by.
    pk = models.CompositePrimaryKey("organization_id", "occurred_at", "event_id")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    event_id = models.CharField(max_length=128)
    meter = models.CharField(max_length=16, choices=ReportedMeter.choices)
    quantity = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    model = models.CharField(max_length=64, blank=True, default="", help_text="Dimension: AI model.")
    action = models.CharField(max_length=64, blank=True, default="", help_text="Dimension: action type.")
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organization"], name="usage_event_organization")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.meter} {self.quantity}"


class UsagePeriodTotal(models.Model):
    """Sum of a period meter (ai_tokens) per organization and billing period."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    meter = models.CharField(max_length=16, choices=ReportedMeter.choices)
    period_start = models.DateField(help_text="Start of the billing period, in the organization's dates.")
    total = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "meter", "period_start"], name="usage_period_total_one_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.meter} {self.period_start}: {self.total}"


class UsageCounter(models.Model):
    """The current count of a count meter (documents, agents) per organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    meter = models.CharField(max_length=16, choices=ReportedMeter.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "meter"], name="usage_counter_one_per_meter"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.meter}: {self.count}"


class UsageDailyTotal(models.Model):
    """Sum per organization, day (organization's time zone), meter, AI model and action: statistics."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    meter = models.CharField(max_length=16, choices=ReportedMeter.choices)
    model = models.CharField(max_length=64, blank=True, default="")
    action = models.CharField(max_length=64, blank=True, default="")
    quantity = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "meter", "model", "action"],
                name="usage_daily_total_one_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.meter} {self.model}/{self.action}: {self.quantity}"


class UsageAlert(models.Model):
    """Sent-marker: owners were e-mailed that a meter reached `threshold` % in this period."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    meter = models.CharField(max_length=16, choices=ReportedMeter.choices)
    period_start = models.DateField()
    threshold = models.PositiveSmallIntegerField(help_text="Percent: 80 or 100.")
    used = models.BigIntegerField()
    limit = models.BigIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "meter", "period_start", "threshold"],
                name="usage_alert_once_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.meter} {self.period_start} {self.threshold}%"


class ModelPrice(models.Model):
    """Catalogue: the price of 1,000 tokens of an AI model in one currency, in minor units of
    that currency (may be fractional: 0.06 cents). One price per model and currency: an
    organization's cost is read in its own currency only, never converted (usage.selectors)."""

    model = models.CharField(max_length=64)
    price_per_1k_tokens_minor = models.DecimalField(max_digits=18, decimal_places=6)
    currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        ordering = ["model", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["model", "currency"], name="model_price_one_per_currency"),
            models.CheckConstraint(
                condition=Q(price_per_1k_tokens_minor__gte=0), name="model_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.price_per_1k_tokens_minor} {self.currency} minor / 1k tokens"
