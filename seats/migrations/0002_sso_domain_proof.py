"""SSO domains are proven by a DNS TXT record (issue 19).

Every domain claimed before this migration was never proven: each gets its own random
verification token and stays unverified until its owners publish the record and verify
it. Until then it routes no sign-in and lets no provider or SCIM client create logins.
"""

import secrets

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def give_each_claim_its_own_token(apps, schema_editor):
    SsoDomain = apps.get_model("seats", "SsoDomain")
    for claim in SsoDomain.objects.all().only("pk"):
        SsoDomain.objects.filter(pk=claim.pk).update(verification_token=secrets.token_urlsafe(24))


class Migration(migrations.Migration):
    dependencies = [
        ("seats", "0001_identity"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="ssodomain",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ssodomain",
            name="verification_token",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(give_each_claim_its_own_token, migrations.RunPython.noop),
        migrations.AddField(
            model_name="ssodomain",
            name="verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ssodomain",
            name="verified_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="ssodomain",
            name="domain",
            field=models.CharField(help_text="Lowercase, e.g. example.com.", max_length=253),
        ),
        migrations.AddConstraint(
            model_name="ssodomain",
            constraint=models.UniqueConstraint(
                fields=("organization", "domain"), name="sso_domain_one_claim_per_organization"
            ),
        ),
        migrations.AddConstraint(
            model_name="ssodomain",
            constraint=models.UniqueConstraint(
                condition=models.Q(("verified_at__isnull", False)),
                fields=("domain",),
                name="sso_domain_verified_by_one_organization",
            ),
        ),
    ]
