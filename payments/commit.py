"""Queue a payments task once the caller's transaction commits."""

from django.db import transaction


def enqueue_after_commit(task_name: str, *args) -> None:
    """Queue `payments.tasks.<task_name>(*args)` after the commit, robustly.

    robust: a broker that is down must not turn a committed change into an error page; the
    hourly dunning run, Stripe's redelivery of webhooks and the admin's "handle again" pick
    the work up. A named function rather than functools.partial, because Django's robust
    on_commit logs a failing callback by its __qualname__, which a partial lacks.
    """

    def enqueue() -> None:
        from payments import tasks

        getattr(tasks, task_name).delay(*args)

    enqueue.__qualname__ = f"enqueue_after_commit({task_name})"
    transaction.on_commit(enqueue, robust=True)
