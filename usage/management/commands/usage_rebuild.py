"""Recompute usage rollups from raw events: `manage.py usage_rebuild [--organization SLUG] [--check]`."""

import time

from django.core.management.base import BaseCommand, CommandError

from organizations.models import Organization
from usage.models import UsageEvent
from usage.services import usage_events_analyze, usage_rollups_rebuild


class Command(BaseCommand):
    help = "Recompute usage rollups (period totals, counts, daily totals) from the raw events."

    def add_arguments(self, parser):
        parser.add_argument(
            "--organization", help="Slug of one organization (default: every one with events)."
        )
        parser.add_argument(
            "--check", action="store_true", help="Only compare; exit 1 when the live rollups differ."
        )

    def handle(self, *args, **options):
        organizations = Organization.objects.order_by("pk")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(f"No organization {options['organization']!r}.")
        else:
            with_events = UsageEvent.objects.values("organization_id").distinct()
            organizations = organizations.filter(pk__in=with_events)
        organizations = list(organizations)
        write = not options["check"]
        started = time.monotonic()
        usage_events_analyze()
        differing = 0
        for number, organization in enumerate(organizations, start=1):
            result = usage_rollups_rebuild(organization=organization, write=write)
            differing += result.changed
            state = ("rebuilt" if write else "DIFFERS") if result.changed else "equal"
            self.stdout.write(
                f"[{number}/{len(organizations)}] {organization.slug}: {state} "
                f"({result.period_rows} period, {result.counter_rows} count, {result.daily_rows} daily rows)"
            )
        elapsed = time.monotonic() - started
        verb = "rebuilt" if write else "differ"
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(organizations)} organizations checked in {elapsed:.1f}s; "
                f"{differing} {verb}, {len(organizations) - differing} already equal."
            )
        )
        if differing and not write:
            raise SystemExit(1)
