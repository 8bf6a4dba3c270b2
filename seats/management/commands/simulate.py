"""`manage.py simulate SCENARIO.json [--keep]`: play a billing scenario on a test clock."""

import contextlib
import json
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from seats.simulation import ScenarioInvalid, load_scenario, run_scenario


class Command(BaseCommand):
    help = "Play a billing scenario (../shared/docs/simulate.md) through the real services; print JSON."

    def add_arguments(self, parser):
        parser.add_argument("scenario", help="Path to the scenario JSON file.")
        parser.add_argument(
            "--keep", action="store_true", help="Keep what it made (prints the organization)."
        )

    def handle(self, *args, scenario: str, keep: bool, **options):
        self._ensure_migrated()
        try:
            # stdout is the JSON alone (it is piped to the checker): what the scenario's services
            # print on the way (the console e-mail backend's messages) goes to stderr.
            with contextlib.redirect_stdout(sys.stderr):
                result = run_scenario(load_scenario(scenario), keep=keep)
        except ScenarioInvalid as error:
            sys.stderr.write(f"invalid scenario: {error}\n")
            sys.exit(2)
        self.stdout.write(json.dumps(result, indent=1, ensure_ascii=False))

    def _ensure_migrated(self) -> None:
        """A fresh checkout's demo database may not exist yet: prepare it (progress on stderr)."""
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            sys.stderr.write("simulate: preparing the database (migrate)...\n")
            call_command("migrate", verbosity=0, interactive=False)
