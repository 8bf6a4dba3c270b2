"""Partners' client organizations in the billing engine (seed 003).

A client's invoices go to its current bill-to party (`organizations.partners.bill_to_for`,
which `billing.services.invoice_issue` asks): the partner under an internal agreement,
the client under an external one. A change of agreement settles the running period by
day, in one transaction (docs/billing.md, "Partners: handover and handback"):

- the party that paid gets a credit note for the unused part of the period, correcting
  the latest invoice it received for the subscription (so at that invoice's tax rate);
- the party that pays from now on gets an invoice from the change date to the period end
  (the chosen plan's period on the unchanged anchor);
- pending seat charges not yet invoiced are invoiced to the party that paid first.

Handover (internal -> external) is done by the partner's owner or admin; the client's
superuser is invited as its owner and e-mailed in the client's language. Handback
(external -> internal) is asked by the client's owner and done when the partner accepts.
"""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.domain import lines as L
from billing.domain.periods import period_containing
from billing.domain.proration import day_fraction
from billing.models import PendingCharge, Plan, Subscription
from billing.preview import dry_run, fraction_text, preview_run
from billing.selectors import (
    active_members,
    seats_total,
    state_token,
    subscription_invoices,
    subscription_live,
)
from billing.services import (
    credit_note_issue,
    invoice_issue,
    pending_line,
    plan_lines,
    plan_switch_problem,
    seats_on_plan,
    subscription_bring_up_to_date,
    subscription_create,
    subscription_move_to_plan,
    subscription_renew,
)
from billing.state_token import state_token_check, state_token_sign
from core.clock import organization_now_and_today
from core.site import absolute_url
from invoices.models import CreditNote, Invoice, Reason
from invoices.services import credit_balance_minor
from organizations import formatting as fmt
from organizations import partners as org_partners
from organizations import services as org_services
from organizations.audit import audit_record
from organizations.errors import RuleViolation
from organizations.mail import mail_after_commit
from organizations.models import (
    Agreement,
    AgreementEvent,
    Invitation,
    Membership,
    Organization,
    PartnerLink,
    Role,
)
from partners import partner_exit
from partners.partner_exit import ExitReport


class HandoverRefused(RuleViolation):
    code = "handover_refused"


# ---------------------------------------------------------------------------
# The state a settlement depends on


def settlement_token(*, link: PartnerLink, on: dt.date) -> str:
    """The preview's state token: the client's billing state, the agreement, both balances."""
    client, partner = link.organization, link.partner
    subscription = subscription_live(organization=client)
    currency = subscription.plan.currency if subscription else client.currency
    return state_token_sign(
        [
            state_token(organization=client, on=on),
            link.agreement,
            link.requested_agreement,
            credit_balance_minor(organization=partner, currency=currency),
            credit_balance_minor(organization=client, currency=currency),
        ]
    )


def _ensure_fresh(*, link: PartnerLink, on: dt.date, expected_token: str | None) -> None:
    """Refuse a confirmation whose preview no longer matches (call under the link's lock)."""
    state_token_check(
        expected_token=expected_token,
        current_token=settlement_token(link=link, on=on),
        message="Something changed since you reviewed this (seats, plan, credit, agreement or the date). "
        "Review the new amounts and confirm again.",
    )


# ---------------------------------------------------------------------------
# The settlement


@dataclass
class Settlement:
    """What a change of agreement issued."""

    pending_invoice: Invoice | None = None  # the old payer's pending seat charges
    credit_note: CreditNote | None = None  # to the old payer: the unused part it paid
    invoice: Invoice | None = None  # to the new payer: from the change date to the period end

    def numbers(self) -> dict:
        return {
            "pending_invoice": getattr(self.pending_invoice, "number", ""),
            "credit_note": getattr(self.credit_note, "number", ""),
            "invoice": getattr(self.invoice, "number", ""),
        }


def handover_plans(*, subscription: Subscription | None):
    """The plans a client can be handed over to: public ones in its currency, one pool of seats,
    and its current plan."""
    plans = Plan.objects.prefetch_related("seat_prices").filter(seat_prices__isnull=True)
    if subscription is not None:
        plans = plans.filter(currency=subscription.plan.currency).filter(
            Q(is_public=True) | Q(pk=subscription.plan_id)
        )
    else:
        plans = plans.filter(is_public=True)
    return plans.distinct().order_by("display_order", "base_price_minor", "code")


def _invoice_pending_to(
    *, subscription: Subscription, payer: Organization, on: dt.date, at: dt.datetime
) -> Invoice | None:
    """Pending seat charges are the old payer's: invoiced to it on the change date."""
    pending = list(subscription.pending_charges.filter(invoice__isnull=True).order_by("created_on", "id"))
    if not pending:
        return None
    lines = [pending_line(charge) for charge in pending]
    if sum(line.amount_minor for line in lines) < 0:
        raise HandoverRefused(
            "A seat credit is still waiting for tomorrow's invoice; change the agreement after it.",
            code="pending_credit",
        )
    invoice = invoice_issue(
        organization=subscription.organization,
        subscription=subscription,
        reason=Reason.SEAT_CHANGE,
        lines=lines,
        currency=subscription.plan.currency,
        issued_on=on,
        at=at,
        bill_to=payer,
    )
    PendingCharge.objects.filter(pk__in=[c.pk for c in pending]).update(invoice=invoice)
    return invoice


def _settle(
    *,
    subscription: Subscription,
    old_payer: Organization,
    plan: Plan,
    on: dt.date,
    at: dt.datetime,
    acting_user,
) -> tuple[Settlement, list[L.LineDraft], dt.date]:
    """Settle the running period by day between the old payer and the next one.

    Issues the old payer's documents (pending charges, then the credit note for the unused
    part, correcting its latest invoice for the subscription) and moves the subscription
    to `plan` on `on`, the anchor unchanged. Returns the new payer's lines (the plan's base
    and billable seats from `on` to its period end) and that period end, for the caller to
    invoice once the agreement has changed.
    """
    old = subscription.plan
    problem = plan_switch_problem(
        subscription=subscription, plan=plan, members_of=subscription.organization.name
    )
    if problem:
        raise HandoverRefused(problem)
    settlement = Settlement(
        pending_invoice=_invoice_pending_to(subscription=subscription, payer=old_payer, on=on, at=at)
    )
    old_total = seats_total(subscription=subscription)
    new_total = seats_on_plan(subscription=subscription, plan=plan)
    start, end = subscription.current_period_start, subscription.current_period_end
    unused = day_fraction(period_start=start, period_end=end, on=on)
    credit_lines = plan_lines(
        plan=old,
        billable=old_total - old.included_seats,
        fraction=unused,
        start=on,
        end=end,
        sign=1,
        what="Unused time",
    )
    # The anchor stays: the new plan's period is the one of its interval that holds `on`.
    new_start, new_end = period_containing(subscription.anchor, plan.interval, on)
    remaining = day_fraction(period_start=new_start, period_end=new_end, on=on)
    charge_lines = plan_lines(
        plan=plan,
        billable=new_total - plan.included_seats,
        fraction=remaining,
        start=on,
        end=new_end,
        sign=1,
        what="Remaining time",
    )
    subscription_move_to_plan(
        subscription=subscription,
        plan=plan,
        start=new_start,
        end=new_end,
        seats=new_total,
        on=on,
        at=at,
        acting_user=acting_user,
    )
    credit_lines = L.without_zero_lines(credit_lines)
    paid = (
        subscription_invoices(subscription=subscription)
        .filter(organization=old_payer)
        .order_by("-pk")
        .first()
    )
    if credit_lines and paid is not None:
        settlement.credit_note = credit_note_issue(
            invoice=paid, lines=credit_lines, issued_on=on, at=at, reason="agreement_change"
        )
    return settlement, charge_lines, new_end


# ---------------------------------------------------------------------------
# Handover: internal -> external


@dataclass(frozen=True)
class Superuser:
    name: str
    reference: str  # the client's own ID for the person ("Superbruger-ID")
    email: str


def _superuser_clean(*, name: str, reference: str, email: str) -> Superuser:
    name, reference = (name or "").strip(), (reference or "").strip()
    email = (email or "").strip().lower()
    if not name:
        raise RuleViolation("Enter the superuser's name.", code="invalid_name", field="superuser_name")
    if len(name) > 150 or len(reference) > 64:
        raise RuleViolation(
            "The superuser's name or ID is too long.", code="invalid_name", field="superuser_name"
        )
    try:
        validate_email(email)
    except ValidationError:
        raise RuleViolation(
            "Enter the superuser's e-mail address.", code="invalid_email", field="superuser_email"
        ) from None
    return Superuser(name=name, reference=reference, email=email)


def _accept_url(token: str) -> str:
    return absolute_url(org_services.invitation_accept_path(token))


def agreement_email_send(
    *,
    link: PartnerLink,
    invitation: Invitation,
    token: str,
    superuser_name: str,
    plan_name: str,
    on: dt.date,
) -> None:
    """After commit: tell the client's superuser, in the client's language, that the agreement
    changed and how to log in (the invitation's link, valid INVITATION_VALID_DAYS)."""
    client = link.organization
    language = fmt.document_language(client.language)
    context = {
        "name": superuser_name,
        "client": client.name,
        "partner": link.partner.name,
        "plan": plan_name,
        "on": fmt.date(on, language, length="long"),
        "accept_url": _accept_url(token),
        "expires_on": fmt.date(invitation.expires_at.date(), language, length="long"),
        "days": settings.INVITATION_VALID_DAYS,
    }
    subject = render_to_string(f"partners/email/agreement_changed_subject.{language}.txt", context)
    body = render_to_string(f"partners/email/agreement_changed.{language}.txt", context)
    mail_after_commit(
        subject=subject, body=body, recipients=[invitation.email], headers={"Content-Language": language}
    )


@dataclass
class HandoverResult:
    link: PartnerLink
    settlement: Settlement
    invitation: Invitation
    subscription: Subscription | None = None
    exit: ExitReport | None = None  # the partner's credentials: revoked, or kept


@transaction.atomic
def agreement_handover(
    *,
    link: PartnerLink,
    plan: Plan,
    superuser_name: str,
    superuser_reference: str,
    superuser_email: str,
    on: dt.date,
    at: dt.datetime,
    acting_user,
    expected_token: str | None = None,
    keep: Collection[str] = (),
) -> HandoverResult:
    """Hand a client over from its partner (internal) to itself (external), on `on`.

    One transaction: the running period is settled by day (the partner's credit note, the
    client's invoice on `plan` from `on` to the period end; the anchor does not move), the
    agreement becomes external, the superuser is invited as the client's owner and e-mailed
    in the client's language. The partner keeps an accountant's access. A client without a
    subscription starts one on `plan` from `on`, paid by itself. The API keys, SCIM tokens,
    SSO connection and proven domains the partner's people made for the client are revoked,
    their pending invitations withdrawn and a billing e-mail of the partner's replaced by the
    superuser's address, except the refs in `keep` (partners.partner_exit); the superuser is
    told which.
    """
    org_partners.ensure_partner_manager(partner=link.partner, user=acting_user)
    link = org_partners.link_lock(link)
    client, partner = link.organization, link.partner
    if link.ended_at is not None or link.agreement != Agreement.INTERNAL:
        raise HandoverRefused(f"{client.name} already pays for itself.", code="not_internal")
    superuser = _superuser_clean(name=superuser_name, reference=superuser_reference, email=superuser_email)
    subscription = subscription_bring_up_to_date(organization=client, on=on, at=at)
    _ensure_fresh(link=link, on=on, expected_token=expected_token)
    if subscription is not None:
        settlement, charge_lines, period_end = _settle(
            subscription=subscription, old_payer=partner, plan=plan, on=on, at=at, acting_user=acting_user
        )
    event = org_partners.agreement_switch(
        link=link,
        agreement=Agreement.EXTERNAL,
        kind=AgreementEvent.Kind.HANDED_OVER,
        on=on,
        at=at,
        actor=acting_user,
    )
    if subscription is not None:
        settlement.invoice = invoice_issue(
            organization=client,
            subscription=subscription,
            reason=Reason.PLAN_CHANGE,
            lines=charge_lines,
            currency=plan.currency,
            issued_on=on,
            at=at,
            bill_to=client,
        )
    else:
        settlement = Settlement()
        subscription = subscription_create(
            organization=client, plan=plan, start_on=on, at=at, acting_user=acting_user
        )
        settlement.invoice = subscription_invoices(subscription=subscription).order_by("-pk").first()
    if not client.billing_email:
        org_services.organization_update_billing_details(
            organization=client, at=at, acting_user=acting_user, billing_email=superuser.email
        )
    # Only an owner may invite an owner; the partner is none (it acts), so the invitation is
    # made by the handover itself and then credited to the partner's person.
    invitation = org_services.invitation_create(
        organization=client,
        email=superuser.email,
        role=Role.OWNER,
        invited_by=None,
        at=at,
        notify=False,
    )
    person = acting_user if getattr(acting_user, "pk", None) else None  # None: the partner's API key
    Invitation.objects.filter(pk=invitation.pk).update(invited_by=person)
    invitation.invited_by = person
    details = {
        "plan": plan.code,
        "superuser": {"name": superuser.name, "reference": superuser.reference, "email": superuser.email},
        "invitation_id": invitation.pk,
        **settlement.numbers(),
    }
    event.details = details
    event.save(update_fields=["details"])
    audit_record(
        organization=client,
        actor=acting_user,
        action="partner.handover",
        at=at,
        target=superuser.email,
        details={"partner": partner.name, **details},
    )
    audit_record(
        organization=partner,
        actor=acting_user,
        action="partner.handover",
        at=at,
        target=client.slug,
        details=details,
    )
    agreement_email_send(
        link=link,
        invitation=invitation,
        token=invitation.token,
        superuser_name=superuser.name,
        plan_name=plan.name,
        on=on,
    )
    report = partner_exit.partner_leaves(
        link=link,
        event=partner_exit.HANDOVER,
        keep=keep,
        acting_user=acting_user,
        on=on,
        at=at,
        notify=[superuser.email],
        new_owner_email=superuser.email,
    )
    return HandoverResult(
        link=link, settlement=settlement, invitation=invitation, subscription=subscription, exit=report
    )


def handover_invitation(*, link: PartnerLink) -> Invitation | None:
    """The superuser's invitation of the latest handover, if it is still open."""
    event = link.events.filter(kind=AgreementEvent.Kind.HANDED_OVER).order_by("-at", "-id").first()
    invitation_id = (event.details or {}).get("invitation_id") if event else None
    if not invitation_id:
        return None
    return (
        Invitation.objects.filter(
            pk=invitation_id,
            organization=link.organization,
            status__in=[Invitation.Status.PENDING, Invitation.Status.EXPIRED],
        )
        .select_related("organization")
        .first()
    )


@transaction.atomic
def handover_invitation_resend(*, link: PartnerLink, on: dt.date, at: dt.datetime, acting_user) -> Invitation:
    """Send the superuser's agreement e-mail again with a new link (the old one stops working)."""
    org_partners.ensure_partner_manager(partner=link.partner, user=acting_user)
    invitation = handover_invitation(link=link)
    if invitation is None:
        raise RuleViolation("There is no open invitation to send again.", code="invitation_closed")
    invitation = org_services.invitation_resend(
        invitation=invitation, at=at, acting_user=acting_user, notify=False
    )
    event = link.events.filter(kind=AgreementEvent.Kind.HANDED_OVER).order_by("-at", "-id").first()
    superuser = (event.details or {}).get("superuser", {})
    subscription = subscription_live(organization=link.organization)
    agreement_email_send(
        link=link,
        invitation=invitation,
        token=invitation.token,
        superuser_name=superuser.get("name", ""),
        plan_name=subscription.plan.name if subscription else "",
        on=event.effective_on,
    )
    return invitation


# ---------------------------------------------------------------------------
# Handback: external -> internal (asked by the client's owner, accepted by the partner)


@transaction.atomic
def agreement_handback_accept(
    *, link: PartnerLink, on: dt.date, at: dt.datetime, acting_user, expected_token: str | None = None
) -> Settlement:
    """The partner accepts to pay again: the same settlement in reverse, plan unchanged."""
    org_partners.ensure_partner_manager(partner=link.partner, user=acting_user)
    link = org_partners.link_lock(link)
    client, partner = link.organization, link.partner
    if link.ended_at is not None or link.agreement != Agreement.EXTERNAL:
        raise HandoverRefused(f"{partner.name} already pays for {client.name}.", code="not_external")
    if link.requested_agreement != Agreement.INTERNAL:
        raise HandoverRefused(
            f"Only an owner of {client.name} can ask {partner.name} to pay again.", code="no_request"
        )
    subscription = subscription_bring_up_to_date(organization=client, on=on, at=at)
    _ensure_fresh(link=link, on=on, expected_token=expected_token)
    settlement, charge_lines, period_end = Settlement(), [], None
    if subscription is not None:
        settlement, charge_lines, period_end = _settle(
            subscription=subscription,
            old_payer=client,
            plan=subscription.plan,
            on=on,
            at=at,
            acting_user=acting_user,
        )
    event = org_partners.agreement_switch(
        link=link,
        agreement=Agreement.INTERNAL,
        kind=AgreementEvent.Kind.HANDED_BACK,
        on=on,
        at=at,
        actor=acting_user,
    )
    if subscription is not None:
        settlement.invoice = invoice_issue(
            organization=client,
            subscription=subscription,
            reason=Reason.PLAN_CHANGE,
            lines=charge_lines,
            currency=subscription.plan.currency,
            issued_on=on,
            at=at,
            bill_to=partner,
        )
    event.details = settlement.numbers()
    event.save(update_fields=["details"])
    for organization, target in ((client, partner.name), (partner, client.slug)):
        audit_record(
            organization=organization,
            actor=acting_user,
            action="partner.handback",
            at=at,
            target=target,
            details=settlement.numbers(),
        )
    return settlement


# ---------------------------------------------------------------------------
# Previews: the exact documents, by the preview engine's dry run of the settlement
# (billing.preview), formatted per party


@dataclass(frozen=True)
class SettlementLine:
    description: str
    quantity: int
    fraction: str
    amount: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class SettlementDocument:
    kind: str  # "invoice" or "credit_note"
    party: str  # the customer name on the document
    party_role: str  # "partner" or "client"
    currency: str
    title: str
    lines: list[SettlementLine]
    subtotal_minor: int
    tax_rate: str
    tax_minor: int
    total_minor: int
    credit_applied_minor: int
    amount_due_minor: int
    subtotal: str
    tax: str
    total: str
    credit_applied: str
    amount_due: str


@dataclass(frozen=True)
class SettlementPreview:
    token: str
    documents: list[SettlementDocument] = field(default_factory=list)
    refusal_code: str = ""
    refusal_message: str = ""
    refusal_field: str | None = None

    @property
    def allowed(self) -> bool:
        return not self.refusal_code


def _settlement_document(document, *, kind: str, partner: Organization, language: str) -> SettlementDocument:
    def money(minor: int) -> str:
        return fmt.money(minor, document.currency, language)

    party_role = "partner" if document.organization_id == partner.pk else "client"
    if kind == "invoice":
        title = _("Invoice to %(name)s") % {"name": document.customer_name}
        applied, due = document.credit_applied_minor, document.amount_due_minor
    else:
        title = _("Credit note to %(name)s (credited to its balance)") % {"name": document.customer_name}
        applied, due = 0, 0
    return SettlementDocument(
        kind=kind,
        party=document.customer_name,
        party_role=party_role,
        currency=document.currency,
        title=title,
        lines=[
            SettlementLine(
                description=line.description,
                quantity=line.quantity,
                fraction=fraction_text(line.fraction_numerator, line.fraction_denominator),
                amount=money(line.amount_minor),
                amount_minor=line.amount_minor,
                currency=document.currency,
            )
            for line in document.lines.all()
        ],
        subtotal_minor=document.subtotal_minor,
        tax_rate=fmt.percent(document.tax_rate, language),
        tax_minor=document.tax_minor,
        total_minor=document.total_minor,
        credit_applied_minor=applied,
        amount_due_minor=due,
        subtotal=money(document.subtotal_minor),
        tax=money(document.tax_minor),
        total=money(document.total_minor),
        credit_applied=money(applied) if applied else "",
        amount_due=money(due),
    )


def _settlement_preview(
    *, link: PartnerLink, on: dt.date, at: dt.datetime, run, language: str
) -> SettlementPreview:
    """The engine's dry run of a settlement (`billing.preview.dry_run`), as each party's documents
    and the settlement's state token."""
    done = dry_run(
        organization=link.organization,
        on=on,
        at=at,
        run=run,
        token=lambda: settlement_token(link=link, on=on),
    )
    if done.refusal is not None:
        return SettlementPreview(
            done.state_token,
            refusal_code=done.refusal.code,
            refusal_message=done.refusal.message,
            refusal_field=done.refusal.field,
        )
    documents = [
        _settlement_document(doc, kind="credit_note", partner=link.partner, language=language)
        for doc in done.credit_notes
    ]
    documents += [
        _settlement_document(doc, kind="invoice", partner=link.partner, language=language)
        for doc in done.invoices
    ]
    return SettlementPreview(done.state_token, documents=documents)


def agreement_handover_preview(
    *,
    link: PartnerLink,
    plan: Plan,
    superuser_name: str,
    superuser_reference: str,
    superuser_email: str,
    on: dt.date,
    at: dt.datetime,
    acting_user,
    language: str = "en",
) -> SettlementPreview:
    """What the handover would issue to each party, exactly, and the token to confirm it with."""
    return _settlement_preview(
        link=link,
        on=on,
        at=at,
        language=language,
        run=lambda: agreement_handover(
            link=link,
            plan=plan,
            superuser_name=superuser_name,
            superuser_reference=superuser_reference,
            superuser_email=superuser_email,
            on=on,
            at=at,
            acting_user=acting_user,
        ),
    )


def agreement_handback_preview(
    *, link: PartnerLink, on: dt.date, at: dt.datetime, acting_user, language: str = "en"
) -> SettlementPreview:
    return _settlement_preview(
        link=link,
        on=on,
        at=at,
        language=language,
        run=lambda: agreement_handback_accept(link=link, on=on, at=at, acting_user=acting_user),
    )


# ---------------------------------------------------------------------------
# Creating a client


@transaction.atomic
def client_create(
    *,
    partner: Organization,
    name: str,
    acting_user,
    at: dt.datetime,
    plan: Plan | None = None,
    seats: int = 0,
    **details,
) -> PartnerLink:
    """A client organization under an internal agreement, with a subscription on `plan` from
    today (the client's date) invoiced to the partner, when a plan is given."""
    link = org_partners.client_organization_create(
        partner=partner, name=name, acting_user=acting_user, at=at, **details
    )
    if plan is not None:
        client = link.organization
        _at, today = organization_now_and_today(client, at=at)
        subscription_create(
            organization=client,
            plan=plan,
            start_on=today,
            at=at,
            seats=seats,
            acting_user=acting_user,
        )
    return link


# ---------------------------------------------------------------------------
# Reads: the Companies list and a client's subscription status


@dataclass(frozen=True)
class CompanyRow:
    client_id: int
    name: str
    slug: str
    plan_name: str
    seats_used: int
    seats_total: int
    agreement: str
    agreement_label: str
    status: str
    status_label: str
    next_renewal_on: dt.date | None
    next_renewal_text: str
    next_invoice_minor: int | None
    next_invoice_text: str
    currency: str
    overdue: bool
    handback_requested: bool


@dataclass(frozen=True)
class CompaniesPage:
    partner: Organization
    query: str
    rows: list[CompanyRow]
    page: object  # django Page of links


def _overdue_client_ids(client_ids: list[int]) -> set[int]:
    """Clients with an unpaid invoice whose payment failed or was given up (any payer), or a
    subscription past due."""
    overdue = set(
        Invoice.objects.filter(serviced_organization_id__in=client_ids)
        .filter(
            Q(status=Invoice.Status.UNCOLLECTIBLE)
            | Q(status=Invoice.Status.OPEN, collection__failed_attempts__gt=0)
        )
        .values_list("serviced_organization_id", flat=True)
    )
    overdue |= set(
        Subscription.objects.filter(
            organization_id__in=client_ids, status=Subscription.Status.PAST_DUE
        ).values_list("organization_id", flat=True)
    )
    return overdue


def next_invoice_preview(*, subscription: Subscription, at: dt.datetime):
    """The next invoice the engine issues for this subscription (the renewal, or a pending
    seat charge before it), by running the renewal and rolling it back; None if none."""
    client = subscription.organization
    _at, on = organization_now_and_today(client, at=at)
    if subscription.status == Subscription.Status.CANCELED:
        return None
    due_on = max(subscription.current_period_end, on)
    preview = preview_run(
        organization=client,
        action="renewal",
        on=on,
        at=at,
        run=lambda: subscription_renew(subscription=subscription, on=due_on, at=at),
    )
    return next((doc for doc in preview.documents if doc.type == "invoice"), None)


def companies_page(
    *, partner: Organization, query: str = "", page_number=1, at: dt.datetime, language: str = "en"
) -> CompaniesPage:
    page = org_partners.client_links_page(partner=partner, query=query, page_number=page_number)
    rows = company_rows(links=list(page.object_list), at=at, language=language)
    return CompaniesPage(partner=partner, query=query, rows=rows, page=page)


def company_rows(*, links: list[PartnerLink], at: dt.datetime, language: str = "en") -> list[CompanyRow]:
    """The Companies rows of these client links (a page of them, or the one just created)."""
    client_ids = [link.organization_id for link in links]
    subscriptions = {
        s.organization_id: s
        for s in Subscription.objects.filter(organization_id__in=client_ids)
        .exclude(status=Subscription.Status.CANCELED)
        .select_related("plan", "organization")
    }
    members = dict(
        Membership.objects.filter(organization_id__in=client_ids, removed_at__isnull=True)
        .values_list("organization_id")
        .annotate(n=Count("id"))
    )
    overdue = _overdue_client_ids(client_ids)
    rows = []
    for link in links:
        client = link.organization
        subscription = subscriptions.get(client.pk)
        next_doc = next_invoice_preview(subscription=subscription, at=at) if subscription else None
        currency = subscription.plan.currency if subscription else client.currency
        rows.append(
            CompanyRow(
                client_id=client.pk,
                name=client.name,
                slug=client.slug,
                plan_name=subscription.plan.name if subscription else "",
                seats_used=members.get(client.pk, 0),
                seats_total=seats_total(subscription=subscription) if subscription else 0,
                agreement=link.agreement,
                agreement_label=Agreement(link.agreement).label,
                status=subscription.status if subscription else "none",
                status_label=subscription.get_status_display() if subscription else _("No subscription"),
                next_renewal_on=subscription.current_period_end if subscription else None,
                next_renewal_text=fmt.date(subscription.current_period_end, language) if subscription else "",
                next_invoice_minor=next_doc.total_minor if next_doc else None,
                next_invoice_text=fmt.money(next_doc.total_minor, currency, language) if next_doc else "",
                currency=currency,
                overdue=client.pk in overdue,
                handback_requested=link.requested_agreement == Agreement.INTERNAL,
            )
        )
    return rows


@dataclass(frozen=True)
class HistoryRow:
    on_text: str
    kind_label: str
    agreement_label: str
    actor: str
    documents: str


@dataclass(frozen=True)
class SubscriptionStatus:
    organization: Organization
    link: PartnerLink | None
    partner_name: str
    agreement: str
    agreement_label: str
    payer_name: str
    has_subscription: bool
    plan_name: str
    status_label: str
    period_text: str
    seats_text: str
    history: list[HistoryRow]
    handback_requested: bool
    open_invitation: Invitation | None


def subscription_status(*, organization: Organization, language: str = "en") -> SubscriptionStatus:
    """The client's subscription and agreement, with the agreement's history."""
    link = org_partners.link_active(organization=organization)
    subscription = subscription_live(organization=organization)
    agreement = link.agreement if link else Agreement.EXTERNAL
    payer = link.partner if link and link.agreement == Agreement.INTERNAL else organization
    history = [
        HistoryRow(
            on_text=fmt.date(event.effective_on, language),
            kind_label=AgreementEvent.Kind(event.kind).label,
            agreement_label=Agreement(event.agreement).label,
            actor=event.actor_label,
            documents=", ".join(
                (event.details or {}).get(key)
                for key in ("pending_invoice", "credit_note", "invoice")
                if (event.details or {}).get(key)
            ),
        )
        for event in org_partners.agreement_history(organization=organization)
    ]
    members = active_members(organization=organization).count()
    return SubscriptionStatus(
        organization=organization,
        link=link,
        partner_name=link.partner.name if link else "",
        agreement=agreement,
        agreement_label=Agreement(agreement).label if link else _("Own account (no partner)"),
        payer_name=payer.invoice_name,
        has_subscription=subscription is not None,
        plan_name=subscription.plan.name if subscription else "",
        status_label=subscription.get_status_display() if subscription else _("No subscription"),
        period_text=fmt.date_range(
            subscription.current_period_start, subscription.current_period_end, language
        )
        if subscription
        else "",
        seats_text=ngettext(
            "%(used)s of %(total)s seat used",
            "%(used)s of %(total)s seats used",
            seats_total(subscription=subscription),
        )
        % {"used": members, "total": seats_total(subscription=subscription)}
        if subscription
        else "",
        history=history,
        handback_requested=bool(link and link.requested_agreement),
        open_invitation=handover_invitation(link=link) if link else None,
    )


@transaction.atomic
def partner_access_remove(
    *, organization: Organization, acting_user, on: dt.date, at: dt.datetime, keep: Collection[str] = ()
) -> PartnerLink:
    """The client's owner ends the partner's access (external agreement only).

    In the same transaction, what the partner leaves behind (its credentials, its people's
    memberships and invitations: `partner_exit.leftovers`) is revoked, except the
    refs in `keep` that the owner ticked on the confirmation page.
    """
    org_partners.ensure_client_owner(
        organization=organization, user=acting_user, what=_("remove the accountant's access")
    )
    link = org_partners.link_active(organization=organization)
    if link is None:
        raise RuleViolation(
            _("%(name)s has no accountant with access.") % {"name": organization.name}, code="no_partner"
        )
    link = org_partners.link_lock(link)
    if link.agreement == Agreement.INTERNAL:
        raise RuleViolation(
            _("%(partner)s pays for %(name)s: it hands the account over first.")
            % {"partner": link.partner.name, "name": organization.name},
            code="partner_pays",
        )
    link.ended_at = at
    link.requested_agreement, link.requested_at, link.requested_by = "", None, None
    link.save(update_fields=["ended_at", "requested_agreement", "requested_at", "requested_by"])
    org_partners.event_record(
        link=link, kind=AgreementEvent.Kind.ACCESS_REMOVED, on=on, at=at, actor=acting_user
    )
    partner_exit.partner_leaves(
        link=link, event=partner_exit.ACCESS_REMOVED, keep=keep, acting_user=acting_user, on=on, at=at
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action="partner.access_removed",
        at=at,
        target=link.partner.name,
    )
    audit_record(
        organization=link.partner,
        actor=acting_user,
        action="partner.access_removed",
        at=at,
        target=organization.slug,
    )
    return link
