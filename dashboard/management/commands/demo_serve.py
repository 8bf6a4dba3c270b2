"""`manage.py demo_serve [ADDR:PORT]`: the development server with the beat schedule running in
the same process (dashboard/scheduler.py), so renewals and the outbox relay happen while the
demo runs. `make run` uses it; production runs gunicorn, a worker and `celery beat`."""

import logging

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from dashboard.scheduler import InProcessBeat


class Command(BaseCommand):
    help = "Serve the demo with the Celery beat schedule run in-process (tasks run eagerly, no broker)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError(
                "CELERY_BROKER_URL is set: run `celery beat` and a worker instead of the in-process schedule."
            )
        logging.getLogger("celery").setLevel(logging.WARNING)  # not a line per relay run, every 5 s
        beat = InProcessBeat(settings.CELERY_BEAT_SCHEDULE)
        beat.start()
        self.stdout.write(f"In-process beat: {', '.join(entry.name for entry in beat.entries)}")
        try:
            # No autoreloader: it would run the server (and a second beat) in a child process.
            call_command("runserver", addrport, use_reloader=False)
        finally:
            beat.stop()
