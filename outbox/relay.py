"""The transactional outbox: work that must follow a commit is a row written in its transaction.

`outbox_enqueue` writes the row and, once the transaction commits, tries to send it at once
(the broker's usual latency). Whatever was not sent then (the broker down, the process
killed) or was sent but never reported done (a message the broker lost, a task that failed)
is sent again by `relay_due` (the `outbox.relay` beat task and `manage.py outbox_relay`)
when it falls due. A send leases the row for LEASE_SECONDS; a failure waits a backoff that
doubles with each attempt. The tasks are idempotent: sending twice runs the work once.

The broker being down delays the work; it never loses it, and the action that caused it
never fails because of it.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import CharField, F, QuerySet, Value
from django.db.models.functions import Cast, Concat

from core import clock

from .models import OutboxMessage

logger = logging.getLogger(__name__)

TASK_ID_PREFIX = "outbox-"
# A message that carries several rows (`outbox.run_rows`): its rows are marked by the task itself.
ROWS_TASK_ID_PREFIX = "outbox-rows-"
# Rows of one task in a shared message: a renewal batch's fifty PDFs become two messages,
# few enough per message that they still spread over the document workers.
ROWS_PER_MESSAGE = 25
# After this many attempts a row is listed as failing (admin, `outbox_status`); it is still retried.
FAILING_AFTER_ATTEMPTS = 5

# Inside `sends_batched`: the keys committed so far, sent together when the block ends.
_batched_keys: ContextVar[list[str] | None] = ContextVar("outbox_batched_keys", default=None)

# Task name -> the plain function its task runs, for tasks whose rows may share a message.
_row_runners: dict[str, Callable] = {}


def runs_rows_together(task_name: str) -> Callable[[Callable], Callable]:
    """Declare `function` the work of the task `task_name`, so that rows of that task claimed
    together share one broker message (`outbox.run_rows`) instead of one each: a message
    costs the sender about as much as the row's own database work (bench/renewals.py).
    `function(*row.args, **row.kwargs)` must be idempotent. In a shared message a failure
    waits the outbox's backoff, not the task's own retry policy; a row claimed alone is
    still sent as its task, with that policy."""

    def register(function: Callable) -> Callable:
        _row_runners[task_name] = function
        return function

    return register


def lease_seconds() -> int:
    """How long a sent row waits for its task's success before it is sent again: longer than a
    message may wait in the queue and run (docs/operations.md)."""
    return settings.OUTBOX_LEASE_SECONDS


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s ... at most an hour."""
    return dt.timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class Work:
    """One task for the outbox. `key`: the work's natural key ("invoice:12:pdf"); the same key
    written twice is one row (the second is ignored). None: a key of its own (work that may
    rightly happen more than once)."""

    task_name: str
    key: str | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def outbox_enqueue_all(works: list[Work]) -> None:
    """Write `works` to the outbox in the caller's transaction (one INSERT), and send them
    once it commits (at once outside one)."""
    now = clock.now()
    messages = [
        OutboxMessage(
            task_name=work.task_name,
            args=list(work.args),
            kwargs=dict(work.kwargs),
            idempotency_key=work.key or f"{work.task_name}:{uuid.uuid4()}",
            created_at=now,
            due_at=now,
        )
        for work in works
    ]
    # ignore_conflicts gives no primary keys back: the rows are found by their keys after the commit.
    OutboxMessage.objects.bulk_create(messages, ignore_conflicts=True)
    keys = [message.idempotency_key for message in messages]

    def send_outbox_messages_after_commit() -> None:  # named: Django logs a robust callback by its name
        batched = _batched_keys.get()
        if batched is None:
            relay_due(keys=keys)
        else:
            batched.extend(keys)

    transaction.on_commit(send_outbox_messages_after_commit, robust=True)


def outbox_enqueue(*, task_name: str, key: str | None = None, args=(), kwargs=None) -> None:
    """Write `task_name(*args, **kwargs)` to the outbox in the caller's transaction (`Work`)."""
    outbox_enqueue_all([Work(task_name=task_name, key=key, args=tuple(args), kwargs=dict(kwargs or {}))])


@contextmanager
def sends_batched() -> Iterator[None]:
    """Within the block, rows are sent when it ends, together (one claim for all), instead of
    each right after its own commit. For a loop of many small transactions, such as a renewal
    batch: the rows of a hundred invoices cost one lease and one status update, not a hundred.
    Rows of transactions that committed are sent even when the block ends in an error; rows
    of a process that dies inside it wait for the relay's next run."""
    keys: list[str] = []
    token = _batched_keys.set(keys)
    try:
        yield
    finally:
        _batched_keys.reset(token)
        if keys:
            try:
                relay_due(keys=keys)
            except Exception:  # as a robust on_commit callback: the rows wait for the relay
                logger.exception("Sending %d outbox rows after a batch failed; the relay will", len(keys))


@dataclass
class RelayResult:
    sent: int = 0
    failed: int = 0


def _claim(*, now: dt.datetime, limit: int, keys: list[str] | None) -> list[OutboxMessage]:
    """Lease up to `limit` due rows to this relay: counted as an attempt and due again after the
    lease, so a relay that dies holding them leaves them to the next. SKIP LOCKED: concurrent
    relays take different rows."""
    with transaction.atomic():
        due = OutboxMessage.objects.filter(done_at__isnull=True, due_at__lte=now)
        if keys is not None:
            due = due.filter(idempotency_key__in=keys)
        rows = list(due.order_by("due_at", "pk").select_for_update(skip_locked=True)[:limit])
        lease_end = now + dt.timedelta(seconds=lease_seconds())
        # One UPDATE whatever the count (bulk_update's CASE per row cost more than the sends).
        # Its right-hand sides read the row as it was: the task id carries the new attempt.
        OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(
            attempts=F("attempts") + 1,
            due_at=lease_end,
            task_id=Concat(
                Value(TASK_ID_PREFIX),
                Cast("pk", CharField()),
                Value("-"),
                Cast(F("attempts") + 1, CharField()),
                output_field=CharField(),
            ),
        )
        for row in rows:
            row.attempts += 1
            row.task_id = f"{TASK_ID_PREFIX}{row.pk}-{row.attempts}"
            row.due_at = lease_end
    return rows


def _task(name: str):
    """The registered task `name`; a web process imports the task modules on first need."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def _send(row: OutboxMessage, *, now: dt.datetime) -> bool:
    try:
        _task(row.task_name).apply_async(args=row.args, kwargs=row.kwargs, task_id=row.task_id)
    except Exception as error:  # the broker down, or (run in-process) the task failed
        logger.warning("Outbox %s (attempt %s) not done: %r", row, row.attempts, error)
        OutboxMessage.objects.filter(pk=row.pk, done_at__isnull=True).update(
            last_error=f"{type(error).__name__}: {error}"[:2000], due_at=now + backoff(row.attempts)
        )
        return False
    return True


def _row_runner(task_name: str) -> Callable | None:
    if task_name not in _row_runners:
        try:
            _task(task_name)  # imports the task modules, which declare their runners
        except KeyError:
            return None  # no such task: `_send` records the error on the row
    return _row_runners.get(task_name)


def _send_rows(task_name: str, rows: list[OutboxMessage], *, now: dt.datetime) -> bool:
    """One `outbox.run_rows` message for `rows` (all of `task_name`), in the queue that task's
    messages take (CELERY_TASK_ROUTES)."""
    first = rows[0]
    try:
        routing = current_app.amqp.router.route({}, task_name)
        _task("outbox.run_rows").apply_async(
            kwargs={"task_name": task_name, "row_ids": [row.pk for row in rows]},
            task_id=f"{ROWS_TASK_ID_PREFIX}{first.pk}-{first.attempts}-{len(rows)}",
            **routing,
        )
    except Exception as error:  # the broker down
        logger.warning("Outbox %d rows of %s not sent: %r", len(rows), task_name, error)
        OutboxMessage.objects.filter(pk__in=[row.pk for row in rows], done_at__isnull=True).update(
            last_error=f"{type(error).__name__}: {error}"[:2000], due_at=now + backoff(first.attempts)
        )
        return False
    return True


def _send_all(rows: list[OutboxMessage], *, now: dt.datetime) -> list[int]:
    """Send the claimed `rows`; the keys of those sent. Rows of a task that `runs_rows_together`
    share messages; every other row, and a row that would be alone, is its task's message."""
    sent: list[int] = []
    together: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        if _row_runner(row.task_name) is None:
            sent += [row.pk] if _send(row, now=now) else []
        else:
            together.setdefault(row.task_name, []).append(row)
    for task_name, group in together.items():
        for start in range(0, len(group), ROWS_PER_MESSAGE):
            chunk = group[start : start + ROWS_PER_MESSAGE]
            if len(chunk) == 1:
                sent += [chunk[0].pk] if _send(chunk[0], now=now) else []
            elif _send_rows(task_name, chunk, now=now):
                sent += [row.pk for row in chunk]
    return sent


def rows_run(*, task_name: str, row_ids: list[int]) -> int:
    """What an `outbox.run_rows` message does: run each row not yet done, in order, with the
    function its task declared (`runs_rows_together`). A row that fails keeps its error and
    waits its backoff; the others go on. Rows done are marked together at the end (a
    worker killed before that runs them again after their lease: idempotent). Returns how
    many were done."""
    runner = _row_runner(task_name)
    if runner is None:
        raise LookupError(f"No outbox row runner for {task_name!r}")
    done: list[int] = []
    try:
        for row in OutboxMessage.objects.filter(pk__in=row_ids, done_at__isnull=True).order_by("pk"):
            try:
                runner(*row.args, **row.kwargs)
            except Exception as error:
                logger.warning("Outbox %s (attempt %s) failed: %r", row, row.attempts, error)
                OutboxMessage.objects.filter(pk=row.pk, done_at__isnull=True).update(
                    last_error=f"{type(error).__name__}: {error}"[:2000],
                    due_at=clock.now() + backoff(row.attempts),
                )
            else:
                done.append(row.pk)
    finally:
        if done:
            OutboxMessage.objects.filter(pk__in=done, done_at__isnull=True).update(
                done_at=clock.now(), last_error=""
            )
    return len(done)


def relay_due(*, keys: list[str] | None = None, batch_size: int = 100, progress=None) -> RelayResult:
    """Send every due row (or only those of `keys`) to the broker, in batches; `progress(result)`
    after each batch. Returns how many were sent and how many failed to send."""
    result = RelayResult()
    while True:
        now = clock.now()
        rows = _claim(now=now, limit=batch_size, keys=keys)
        sent = _send_all(rows, now=now)
        if sent:
            OutboxMessage.objects.filter(pk__in=sent).update(sent_at=now)
        result.sent += len(sent)
        result.failed += len(rows) - len(sent)
        if progress is not None and rows:
            progress(result)
        if len(rows) < batch_size or (keys is not None and result.sent + result.failed >= len(keys)):
            return result


def task_finished(sender=None, task_id=None, state=None, retval=None, **kwargs) -> None:
    """Celery's task_postrun: an outbox task's outcome on its row. Success marks it done; a final
    failure keeps the error and sends it again after a backoff. (A retry is not an outcome:
    the task runs again under the same id.)"""
    if not task_id or not task_id.startswith(TASK_ID_PREFIX) or task_id.startswith(ROWS_TASK_ID_PREFIX):
        return  # not an outbox task, or a shared message whose task marks its rows (rows_run)
    now = clock.now()
    rows = OutboxMessage.objects.filter(task_id=task_id, done_at__isnull=True)
    if state == "SUCCESS":
        rows.update(done_at=now, last_error="")
    elif state == "FAILURE":
        for row in rows:
            OutboxMessage.objects.filter(pk=row.pk).update(
                last_error=f"{type(retval).__name__}: {retval}"[:2000], due_at=now + backoff(row.attempts)
            )


def failing() -> QuerySet[OutboxMessage]:
    """Rows not done after FAILING_AFTER_ATTEMPTS attempts: for the operator."""
    return OutboxMessage.objects.filter(done_at__isnull=True, attempts__gte=FAILING_AFTER_ATTEMPTS).order_by(
        "due_at"
    )
