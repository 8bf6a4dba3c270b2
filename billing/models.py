"""The catalogue (plans and their limits) and each organization's subscription state."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from invoices.models import Invoice, Reason
from organizations.models import Organization


class Interval(models.TextChoices):
    WEEK = "week", _("Weekly")
    MONTH = "month", _("Monthly")
    YEAR = "year", _("Yearly")


class Plan(models.Model):
    class SeatMode(models.TextChoices):
        AUTO = "auto", "Adding members buys missing seats"
        MANUAL = "manual", "Owners buy seats first"

    class SeatRemoval(models.TextChoices):
        CREDIT = "credit", "Credit unused seats"
        NONE = "none", "Seats stay paid until renewal"

    class RenewalSeats(models.TextChoices):
        IN_USE = "in_use", "Renew with the seats in use"
        KEEP = "keep", "Renew with the seats paid for"

    class SeatInvoicing(models.TextChoices):
        IMMEDIATE = "immediate", "Invoice at once"
        NEXT_DAY = "next_day", "Invoice the next day"
        NEXT_INVOICE = "next_invoice", "On the next renewal invoice"

    class Proration(models.TextChoices):
        DAY = "day", "By day"
        MONTH = "month", "By month"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    base_price_minor = models.BigIntegerField(
        default=0, help_text="Per interval, excluding tax, minor units."
    )
    seat_price_minor = models.BigIntegerField(
        default=0, help_text="Per billable seat per interval, minor units."
    )
    included_seats = models.PositiveIntegerField(default=0)
    max_seats = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no cap.")
    seat_mode = models.CharField(max_length=8, choices=SeatMode.choices, default=SeatMode.AUTO)
    seat_removal = models.CharField(max_length=8, choices=SeatRemoval.choices, default=SeatRemoval.CREDIT)
    renewal_seats = models.CharField(max_length=8, choices=RenewalSeats.choices, default=RenewalSeats.IN_USE)
    seat_invoicing = models.CharField(
        max_length=16, choices=SeatInvoicing.choices, default=SeatInvoicing.IMMEDIATE
    )
    proration = models.CharField(max_length=8, choices=Proration.choices, default=Proration.DAY)
    is_public = models.BooleanField(default=True, help_text="Offered in the change-plan list.")
    display_order = models.PositiveIntegerField(default=0)
    recommended_rank = models.PositiveIntegerField(
        null=True, blank=True, help_text="Lower is recommended first; empty: never recommended."
    )

    class Meta:
        ordering = ["display_order", "base_price_minor", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(base_price_minor__gte=0), name="plan_base_price_not_negative"),
            models.CheckConstraint(condition=Q(seat_price_minor__gte=0), name="plan_seat_price_not_negative"),
            models.CheckConstraint(
                condition=Q(max_seats__isnull=True) | Q(max_seats__gte=models.F("included_seats")),
                name="plan_max_seats_covers_included",
            ),
            models.CheckConstraint(
                condition=~Q(interval="week", proration="month"), name="plan_month_proration_not_weekly"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def has_seat_intervals(self) -> bool:
        return bool(self.seat_prices_by_interval())

    def seat_prices_by_interval(self) -> dict[str, int]:
        """Per-member intervals: {"year": 12000, ...}; empty when the plan's seats are one pool."""
        return {price.interval: price.unit_price_minor for price in self.seat_prices.all()}

    def seat_price_for(self, interval: str) -> int:
        prices = self.seat_prices_by_interval()
        if prices:
            return prices[interval]
        return self.seat_price_minor


class PlanSeatPrice(models.Model):
    """A price per interval for a paid seat, on plans with per-member billing intervals (seed 004)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="seat_prices")
    interval = models.CharField(max_length=8, choices=Interval.choices)
    unit_price_minor = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "interval"], name="plan_seat_price_one_per_interval"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="plan_seat_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.interval}: {self.unit_price_minor}"


class Meter(models.TextChoices):
    AI_TOKENS = "ai_tokens", _("AI tokens")
    DOCUMENTS = "documents", _("Documents / products")
    AGENTS = "agents", _("Agents")
    SEATS = "seats", _("Seats")


class PlanLimit(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="limits")
    meter = models.CharField(max_length=32, choices=Meter.choices)
    limit = models.BigIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    hard = models.BooleanField(default=True, help_text="Hard: refuse at the limit. Soft: allow and flag.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "meter"], name="plan_limit_one_per_meter")]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.meter}: {self.limit if self.limit is not None else 'unlimited'}"


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        CANCELED = "canceled", _("Canceled")

    class Source(models.TextChoices):
        WEB = "web", "Web"
        APP_STORE = "app_store", "Mobile app store"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEB)
    # Periods are computed from the anchor; the current one is stored so the scheduler can
    # find the subscriptions that are due with an index.
    anchor = models.DateField()
    current_period_start = models.DateField()
    current_period_end = models.DateField()
    committed_seats = models.PositiveIntegerField(default=0, help_text="The contract's minimum.")
    auto_renew = models.BooleanField(default=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=~Q(status="canceled"), name="subscription_one_live_per_org"
            ),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_not_empty",
            ),
        ]
        indexes = [models.Index(fields=["status", "current_period_end"])]

    def __str__(self) -> str:
        return f"{self.organization} on {self.plan.code}"


class SubscriptionInvoice(models.Model):
    """The subscription an invoice was issued for, and why and when.

    Written by billing.services.invoice_issue in the invoice's own transaction and never
    changed nor deleted (migration 0005's trigger): invoices know nothing of subscriptions.
    `reason` and `issued_on` are the invoice's own, kept here too for the constraint.
    """

    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, primary_key=True, related_name="subscription_link"
    )
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="invoice_links")
    reason = models.CharField(max_length=32, choices=Reason.choices)
    issued_on = models.DateField()

    class Meta:
        constraints = [
            # One invoice per subscription, reason and day for the scheduled ones (a renewal is
            # issued on the day its period starts), so a retried or doubled renewal can never
            # invoice a period twice: the second insert waits for the first transaction, then
            # fails and takes its invoice back with it. Not the header's period start: that is
            # the span of the lines (issue 22), and a pending charge can start it earlier.
            models.UniqueConstraint(
                fields=["subscription", "reason", "issued_on"],
                condition=Q(reason__in=[Reason.SUBSCRIPTION_CREATE, Reason.SUBSCRIPTION_CYCLE]),
                name="subscription_invoice_once_per_day_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} for subscription {self.subscription_id}"


class SeatItem(models.Model):
    """The paid seats of one billing interval, each item with its own current period.

    A plan without per-member intervals has one item, on the plan's interval. Seats in
    total = plan.included_seats + the items' quantities.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="seat_items")
    interval = models.CharField(max_length=8, choices=Interval.choices)
    quantity = models.PositiveIntegerField(default=0, help_text="Paid (billable) seats.")
    period_start = models.DateField()
    period_end = models.DateField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "interval"], name="seat_item_one_per_interval"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.interval} seats of {self.subscription_id}"


class SeatIntervalChange(models.Model):
    """A paying member's move to another billing interval, at the end of their current seat
    period (seed 004; docs/billing.md rule 19). Scheduled by seats.services.member_interval_change
    and applied by the renewal of `from_interval` on `effective_on`, before its quantities are
    counted; until then nothing changes and nothing is charged."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        APPLIED = "applied", "Applied"
        CANCELED = "canceled", "Canceled"  # withdrawn or replaced by another choice
        VOID = "void", "Void"  # the member left, or moved onto an included seat, first

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="interval_changes")
    membership = models.ForeignKey("organizations.Membership", on_delete=models.CASCADE, related_name="+")
    from_interval = models.CharField(max_length=8, choices=Interval.choices)
    to_interval = models.CharField(max_length=8, choices=Interval.choices)
    effective_on = models.DateField(help_text="The end of the member's seat period of from_interval.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["effective_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership"],
                condition=Q(status="scheduled"),
                name="seat_interval_change_one_scheduled",
            ),
            models.CheckConstraint(
                condition=~Q(from_interval=models.F("to_interval")), name="seat_interval_change_changes"
            ),
        ]
        indexes = [models.Index(fields=["subscription", "status", "effective_on"])]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.from_interval} -> {self.to_interval} on {self.effective_on}"


class PlanUnitType(models.Model):
    """A countable unit besides seats that a plan bills (seed 001: phone numbers).

    Billed per plan interval at `unit_price_minor` each beyond `included` (paid by the base
    price); `committed` is the contract's minimum, billed even when fewer exist; `max_units`
    caps what may exist (billing-rules.md, "Units other than seats")."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="unit_types")
    code = models.SlugField(max_length=64, help_text="phone_numbers")
    name = models.CharField(max_length=120, help_text="Plural, as the owners' table shows it.")
    unit_price_minor = models.BigIntegerField(default=0, help_text="Per billable unit per plan interval.")
    included = models.PositiveIntegerField(default=0)
    committed = models.PositiveIntegerField(default=0, help_text="The contract's minimum.")
    max_units = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no cap.")

    class Meta:
        ordering = ["plan", "code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="plan_unit_type_code_unique"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="plan_unit_price_not_negative"),
            models.CheckConstraint(
                condition=Q(max_units__isnull=True)
                | (Q(max_units__gte=models.F("included")) & Q(max_units__gte=models.F("committed"))),
                name="plan_unit_max_covers_included_and_committed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.code}: {self.unit_price_minor}"

    @property
    def floor(self) -> int:
        """Billed never goes below this: the included and committed units."""
        return max(self.included, self.committed)


class UnitItem(models.Model):
    """How many units of one type a subscription pays for in its current period (`billed`).

    `billed >= max(included, committed, created)`; only the services change it, under the
    subscription's row lock. Units follow the plan's own interval and period."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="unit_items")
    code = models.SlugField(max_length=64)
    billed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "code"], name="unit_item_one_per_code"),
        ]

    def __str__(self) -> str:
        return f"{self.billed} {self.code} of {self.subscription_id}"


class Unit(models.Model):
    """One unit the customer created (a phone number); deleting it keeps the row (`deleted_at`)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="units")
    code = models.SlugField(max_length=64, help_text="The unit type's code.")
    label = models.CharField(max_length=64, blank=True, help_text="What the customer calls it: the number.")
    created_on = models.DateField()
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=200, blank=True)
    deleted_on = models.DateField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code", "label"],
                condition=Q(deleted_at__isnull=True) & ~Q(label=""),
                name="unit_live_label_unique",
            ),
        ]
        indexes = [models.Index(fields=["organization", "code", "deleted_at"])]

    def __str__(self) -> str:
        return self.label or f"{self.code} #{self.pk}"


class PendingCharge(models.Model):
    """A prorated seat charge waiting for its invoice (`next_day` or `next_invoice` plans)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="pending_charges")
    kind = models.CharField(max_length=16, default="proration")
    description = models.CharField(max_length=300)
    interval = models.CharField(max_length=8, choices=Interval.choices)
    unit = models.CharField(
        max_length=64, blank=True, db_default="", help_text="A unit type's code; empty: seats."
    )
    quantity = models.IntegerField()
    unit_price_minor = models.BigIntegerField()
    fraction_numerator = models.BigIntegerField()
    fraction_denominator = models.BigIntegerField()
    period_start = models.DateField()
    period_end = models.DateField()
    created_on = models.DateField()
    invoice_on = models.DateField(null=True, blank=True, help_text="Empty: on the next renewal invoice.")
    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_on", "id"]
        indexes = [models.Index(fields=["subscription", "invoice"])]

    def __str__(self) -> str:
        return self.description


class SeatLedgerEntry(models.Model):
    """Append-only: every change of paid seats, so 'seats on any date' is a query."""

    class Reason(models.TextChoices):
        START = "start", "Subscription started"
        PURCHASE = "purchase", "Seats bought"
        AUTO_PURCHASE = "auto_purchase", "Bought for new members"
        REMOVAL = "removal", "Given back after a removal"
        RENEWAL = "renewal", "Renewed"
        PLAN_CHANGE = "plan_change", "Plan changed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="seat_ledger")
    interval = models.CharField(max_length=8, choices=Interval.choices)
    effective_on = models.DateField()
    delta = models.IntegerField()
    quantity_after = models.PositiveIntegerField(help_text="Paid seats of this interval after the change.")
    total_seats_after = models.PositiveIntegerField(help_text="All seats, included ones too.")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["effective_on", "id"]
        indexes = [models.Index(fields=["subscription", "effective_on"])]

    def __str__(self) -> str:
        return f"{self.effective_on} {self.interval} {self.delta:+d} -> {self.quantity_after}"
