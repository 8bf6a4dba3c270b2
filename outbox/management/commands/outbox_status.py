"""`manage.py outbox_status`: what the outbox holds, and every failing row with its last error."""

from django.core.management.base import BaseCommand
from django.db.models import Count, Q

from core import clock
from outbox.models import OutboxMessage
from outbox.relay import FAILING_AFTER_ATTEMPTS, failing


class Command(BaseCommand):
    help = "Count outbox rows by task and state, and list the failing ones with their last error."

    def handle(self, *args, **options):
        now = clock.now()
        rows = (
            OutboxMessage.objects.values("task_name")
            .annotate(
                done=Count("pk", filter=~Q(done_at=None)),
                due=Count("pk", filter=Q(done_at=None, due_at__lte=now)),
                waiting=Count("pk", filter=Q(done_at=None, due_at__gt=now)),
            )
            .order_by("task_name")
        )
        self.stdout.write(f"{'task':40} {'done':>8} {'due now':>8} {'later':>8}")
        for row in rows:
            self.stdout.write(f"{row['task_name']:40} {row['done']:>8} {row['due']:>8} {row['waiting']:>8}")
        stuck = list(failing())
        self.stdout.write(f"{len(stuck)} failing ({FAILING_AFTER_ATTEMPTS} or more attempts, not done):")
        for row in stuck:
            self.stdout.write(
                f"  #{row.pk} {row.task_name} {row.idempotency_key}: {row.attempts} attempts,"
                f" next {row.due_at.isoformat()}, last error: {row.last_error or '-'}"
            )
