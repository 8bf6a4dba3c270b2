"""Queue a payments task with the caller's transaction, through the outbox."""

from outbox.relay import outbox_enqueue


def enqueue_after_commit(task_name: str, *args, key: str | None = None) -> None:
    """Run `payments.tasks.<task_name>(*args)` once the caller's transaction commits: an outbox
    row written in that transaction (outbox.relay), so a broker that is down delays the work
    and never loses it, and never turns a committed change into an error page.

    `key`: the work's natural key (written twice, it is one row); None for work that may
    rightly be queued again (charging the open invoices when a card is added)."""
    from payments import tasks

    outbox_enqueue(task_name=getattr(tasks, task_name).name, key=key, args=args)
