"""The beat schedule run in-process for the demo (`manage.py demo_serve`, which `make run` uses).

Without a broker, Celery runs every task eagerly in the process that sends it (settings:
CELERY_TASK_ALWAYS_EAGER), and no `celery beat` is running: renewals, the outbox relay and
the sweeps would only happen when someone ran their commands. This thread reads the same
CELERY_BEAT_SCHEDULE the production beat container reads and runs each entry when it is due,
in-process; each entry runs once at start too, so what fell due while the demo was stopped
is done at once. Production runs the real `celery beat` (docker-compose.yml).
"""

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from celery import current_app
from celery.schedules import BaseSchedule, schedule
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


@dataclass
class Entry:
    name: str
    task: str
    every: BaseSchedule
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    last_run_at: dt.datetime | None = None  # None: never ran in this process (due at once)

    def is_due(self) -> bool:
        return self.last_run_at is None or self.every.is_due(self.last_run_at).is_due


def entries_from(beat_schedule: dict, *, app=None) -> list[Entry]:
    """CELERY_BEAT_SCHEDULE's entries; a number of seconds or a timedelta becomes a schedule."""
    app = app or current_app
    entries = []
    for name, spec in beat_schedule.items():
        every = spec["schedule"]
        if isinstance(every, int | float):
            every = dt.timedelta(seconds=every)
        if isinstance(every, dt.timedelta):
            every = schedule(run_every=every, app=app)
        entries.append(
            Entry(name, spec["task"], every, tuple(spec.get("args", ())), dict(spec.get("kwargs", {})))
        )
    return entries


class InProcessBeat(threading.Thread):
    """A daemon thread that runs due schedule entries in this process, one at a time."""

    def __init__(self, beat_schedule: dict, *, tick_seconds: float = 1.0, app=None):
        super().__init__(name="in-process-beat", daemon=True)
        self.app = app or current_app
        self.app.loader.import_default_modules()  # the tasks of every app (autodiscovery)
        self.entries = entries_from(beat_schedule, app=self.app)
        self.tick_seconds = tick_seconds
        self.stopped = threading.Event()

    def run_due(self) -> list[str]:
        """Run every entry that is due now; the names of those that ran."""
        ran = []
        for entry in self.entries:
            if not entry.is_due():
                continue
            entry.last_run_at = self.app.now()
            try:
                self.app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs, throw=True)
            except Exception:  # one failing entry must not stop the others: log it, run it when next due
                logger.exception("in-process beat: %s (%s) failed", entry.name, entry.task)
            finally:
                if not connection.in_atomic_block:  # this thread's connection, between runs
                    close_old_connections()
            ran.append(entry.name)
        return ran

    def run(self) -> None:
        while not self.stopped.is_set():
            self.run_due()
            self.stopped.wait(self.tick_seconds)

    def stop(self) -> None:
        self.stopped.set()
