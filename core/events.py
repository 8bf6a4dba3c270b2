"""Events one app announces and a higher app acts on, so that a lower app never imports a
higher one (the layers are in docs/architecture.md).

billing issues an invoice; payments, above it, charges the card. billing publishes
`INVOICE_ISSUED` and payments subscribes in its AppConfig.ready(). Handlers run at once, in
the publisher's transaction and in the order they subscribed; one that must act only after
the commit says so itself (transaction.on_commit). An exception in a handler rolls the
publisher's transaction back, as a direct call would.

Every event and who handles it, in one place:

    INVOICE_ISSUED (invoice=Invoice)   payments.hooks.invoice_issued

A lower app may also ask a question only a higher app can answer (`ask`: true when any
subscriber answers true; nobody subscribed is false):

    CHARGES_CARD (organization=Organization)   payments.hooks.charges_card
        Will the invoices issued to this organization be charged to its card at once?
        (invoices prints "Due on receipt" instead of a due date.)
"""

from collections import defaultdict
from collections.abc import Callable

INVOICE_ISSUED = "invoice.issued"
CHARGES_CARD = "organization.charges_card"

_handlers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str, handler: Callable[..., None]) -> None:
    """Calls `handler(**data)` on each `publish(event, **data)`; subscribing twice is once."""
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def publish(event: str, **data) -> None:
    for handler in list(_handlers[event]):
        handler(**data)


def ask(question: str, **data) -> bool:
    """True when any subscriber of `question` answers true for `data`."""
    return any(handler(**data) for handler in list(_handlers[question]))
