"""`manage.py outbox_relay`: send every due outbox row to the broker now, with progress and a summary.

What the `outbox.relay` beat task does every few seconds, for an operator (after a broker
outage, say) or a machine without beat.
"""

import time

from django.core.management.base import BaseCommand

from outbox.models import OutboxMessage
from outbox.relay import failing, relay_due


class Command(BaseCommand):
    help = "Send every due outbox row to the broker and print a summary."

    def handle(self, *args, **options):
        started = time.monotonic()
        result = relay_due(
            progress=lambda so_far: self.stdout.write(f"  sent {so_far.sent}, failed {so_far.failed}")
        )
        waiting = OutboxMessage.objects.filter(done_at__isnull=True).count()
        self.stdout.write(
            f"Sent {result.sent} outbox messages in {time.monotonic() - started:.1f} s, "
            f"{result.failed} could not be sent (retried after a backoff); "
            f"{waiting} not done yet, {failing().count()} failing (manage.py outbox_status)."
        )
