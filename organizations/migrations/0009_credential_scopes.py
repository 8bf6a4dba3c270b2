"""API keys get scopes. Keys made before could report usage and read entitlements and usage
(the only endpoints that took a key): they keep exactly that."""

from django.db import migrations, models

SCOPES_IN_EFFECT = "usage:write usage:read entitlements:read"


def scopes_in_effect(apps, schema_editor):
    Credential = apps.get_model("organizations", "Credential")
    Credential.objects.filter(kind="api_key", scopes="").update(scopes=SCOPES_IN_EFFECT)


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0008_idempotent_request"),
    ]

    operations = [
        migrations.AddField(
            model_name="credential",
            name="scopes",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
        migrations.RunPython(scopes_in_effect, migrations.RunPython.noop),
    ]
