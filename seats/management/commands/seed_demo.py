"""`manage.py seed_demo`: the demo organizations and logins (safe to run again)."""

from django.core.management.base import BaseCommand

from seats.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo catalogue and one organization per help-center story; print the logins."

    def handle(self, *args, **options):
        self.stdout.write("Demo data:")
        logins = seed_demo(progress=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD}):"))
        for login in logins:
            self.stdout.write(f"  {login.email:<32} {login.role:<8} {login.organization}")
