"""Create the monthly partitions of the raw usage events ahead: `manage.py usage_partitions [--months N]`."""

from django.core.management.base import BaseCommand
from django.db import connection

from core import clock
from usage.services import usage_partitions_ensure


class Command(BaseCommand):
    help = "PostgreSQL: create monthly partitions of usage_usageevent from last month to N months ahead."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=3, help="Months ahead of this one (default 3).")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("Not PostgreSQL: usage events are one table; nothing to do.")
            return
        created = usage_partitions_ensure(on=clock.now().date(), months_ahead=options["months"])
        self.stdout.write(self.style.SUCCESS(f"{created} partitions created."))
