"""Create the monthly partitions of the raw usage events ahead: `manage.py usage_partitions [--months N]`."""

import datetime as dt

from django.core.management.base import BaseCommand
from django.db import connection

from config import clock


class Command(BaseCommand):
    help = "PostgreSQL: create monthly partitions of usage_usageevent from last month to N months ahead."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=3, help="Months ahead of this one (default 3).")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: usage events are one table; nothing to do.")
            return
        today = clock.now().date()
        first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT usage_event_partitions_ensure(%s, %s)", [first, options["months"] + 2])
            created = cursor.fetchone()[0]
        self.stdout.write(self.style.SUCCESS(f"{created} partitions created (from {first:%Y-%m})."))
