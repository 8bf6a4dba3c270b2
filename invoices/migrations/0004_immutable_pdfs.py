"""Database triggers: a stored PDF's row and an e-mail's sent-marker never change.

The PDF row records what was stored (name, SHA-256, token): updating it would let a
served document silently differ from the one issued, so PostgreSQL refuses updates and
deletes; SQLite (the demo database) refuses updates only, so that `flush` keeps working.
"""

from django.db import migrations

TABLES = ["invoices_documentpdf", "invoices_documentemail"]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME USING ERRCODE = '55000';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {table}_append_only();""",
                params=None,
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'append-only rows never change'); END;""",
                params=None,
            )


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}", params=None)
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()", params=None)
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only", params=None)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0003_document_pdf_and_email")]
    operations = [migrations.RunPython(install, uninstall)]
