"""`manage.py seed_demo`: the demo organizations and logins (safe to run again)."""

import logging

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from dashboard.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo catalogue and one organization per help-center story; print the logins."

    def handle(self, *args, **options):
        self.stdout.write("Demo data (months of history, made by the real services):")
        # The history's invoice e-mails are kept in memory, not printed to the console, and the
        # in-process tasks' success lines are quieted: the logins below are what matters here.
        logging.getLogger("celery").setLevel(logging.WARNING)
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            logins = seed_demo(progress=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD}):"))
        for login in logins:
            self.stdout.write(f"  {login.email:<32} {login.role:<8} {login.organization}")
