"""`manage.py partner_enable SLUG`: make an organization a partner (seed 003)."""

from django.core.management.base import BaseCommand, CommandError

from core import clock
from organizations.models import Organization
from organizations.partners import partner_enable


class Command(BaseCommand):
    help = (
        "Make an organization a partner: its owners and admins then manage client organizations (Companies)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization {slug!r}.")
        partner_enable(organization=organization, at=clock.now())
        self.stdout.write(f"{organization.name} is a partner: /o/{organization.slug}/companies/")
