"""The relay on the beat schedule, and e-mail sent through the outbox."""

from celery import shared_task
from django.core.mail import EmailMessage
from django.db import transaction

from core import clock

from .models import OutboxMessage
from .relay import relay_due, rows_run


@shared_task(name="outbox.relay", acks_late=True, ignore_result=True)
def outbox_relay_task() -> int:
    """Send every due outbox row to the broker (every few seconds, CELERY_BEAT_SCHEDULE)."""
    return relay_due().sent


@shared_task(name="outbox.run_rows", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_rows_task(task_name: str, row_ids: list[int]) -> int:
    """Several rows of one task in one message (relay.runs_rows_together)."""
    return rows_run(task_name=task_name, row_ids=row_ids)


@shared_task(name="outbox.mail_send", acks_late=True, ignore_result=True)
def mail_send_task(
    key: str, subject: str, body: str, recipients: list[str], headers: dict[str, str] | None = None
) -> None:
    """Send one e-mail of the outbox row `key`, once: lock-then-check its row, send, mark it
    done in the same transaction (a failed send rolls the mark back; the relay sends the row
    again after its backoff). A crash between the mail server's acceptance and the commit is
    the one case that could send twice."""
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update().filter(idempotency_key=key).first()
        if row is not None and row.done_at is not None:
            return
        EmailMessage(subject=subject, body=body, to=recipients, headers=headers).send(fail_silently=False)
        if row is not None:
            OutboxMessage.objects.filter(pk=row.pk).update(done_at=clock.now(), last_error="")
