from django.db import models


class OutboxMessage(models.Model):
    """A Celery task that must run because a change committed, written in that change's transaction.

    The relay (outbox/relay.py) sends it to the broker once it is due and leases it: `due_at`
    moves to when it is sent again unless the task has reported success (`done_at`) by then.
    So a broker that is down, a message lost by the broker and a task that failed all end in
    the row being sent again; the tasks are idempotent. Times are aware instants.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # The work's natural key ("invoice:12:pdf"): writing the same work twice is one row.
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The Celery task id of the latest send: the task's outcome is matched to the row by it.
    task_id = models.CharField(max_length=100, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"], name="outbox_pending_due", condition=models.Q(done_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.idempotency_key}"
