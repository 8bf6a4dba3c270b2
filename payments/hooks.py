"""What payments does when billing announces an invoice (core.events.INVOICE_ISSUED).

billing publishes the event inside the transaction that issued the invoice; the charge is
queued only once that transaction commits, and only when card payments are on and something
is due (an invoice settled by credit is paid on issue).
"""

from invoices.models import Invoice
from organizations.models import Organization
from payments.charging import REASON_ISSUE, invoice_charge_enqueue
from payments.gateway import payments_online
from payments.models import PaymentMethod


def invoice_issued(*, invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.OPEN or invoice.amount_due_minor <= 0 or not payments_online():
        return
    invoice_charge_enqueue(invoice_id=invoice.pk, reason=REASON_ISSUE)


def charges_card(*, organization: Organization) -> bool:
    """Its invoices are charged at issue: card payments are on and it has a default method."""
    return (
        payments_online()
        and PaymentMethod.objects.filter(
            organization=organization, is_default=True, detached_at__isnull=True
        ).exists()
    )
