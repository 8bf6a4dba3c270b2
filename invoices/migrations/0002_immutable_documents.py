"""Database triggers that refuse changing an issued document.

Invoices and credit notes: their number, dates, parties and money never change and they
are never deleted (payment status may change). Their lines and the credit balance
ledger are never updated or deleted. PostgreSQL refuses deletes too; SQLite (the demo
database) refuses updates only, so that `flush` keeps working there.
"""

from django.db import migrations

FROZEN = {
    "invoices_invoice": [
        "organization_id",
        "number",
        "sequence",
        "issued_on",
        "subscription_id",
        "reason",
        "currency",
        "subtotal_minor",
        "tax_rate",
        "tax_kind",
        "tax_minor",
        "total_minor",
        "credit_applied_minor",
        "amount_due_minor",
        "period_start",
        "period_end",
        "customer_name",
        "customer_address",
        "customer_country",
        "customer_vat_id",
        "seller_name",
        "seller_address",
        "seller_country",
        "seller_vat_id",
        "created_at",
    ],
    "invoices_creditnote": [
        "organization_id",
        "number",
        "sequence",
        "issued_on",
        "invoice_id",
        "reason",
        "currency",
        "subtotal_minor",
        "tax_rate",
        "tax_kind",
        "tax_minor",
        "total_minor",
        "customer_name",
        "customer_address",
        "customer_country",
        "customer_vat_id",
        "seller_name",
        "seller_address",
        "seller_country",
        "seller_vat_id",
        "created_at",
    ],
}
APPEND_ONLY = ["invoices_invoiceline", "invoices_creditnoteline", "invoices_creditbalanceentry"]
ALL = list(FROZEN) + APPEND_ONLY


def _postgres_sql():
    statements = []
    for table, columns in FROZEN.items():
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        statements.append(f"""
CREATE OR REPLACE FUNCTION {table}_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'issued document % is never deleted', OLD.number USING ERRCODE = '55000';
  END IF;
  IF {changed} THEN
    RAISE EXCEPTION 'issued document % never changes; issue a credit note instead', OLD.number
      USING ERRCODE = '55000';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {table}_frozen();""")
    for table in APPEND_ONLY:
        statements.append(f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME USING ERRCODE = '55000';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {table}_append_only();""")
    return statements


def _sqlite_sql():
    statements = []
    for table, columns in FROZEN.items():
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        statements.append(f"""
CREATE TRIGGER {table}_frozen BEFORE UPDATE ON {table} WHEN {changed}
BEGIN SELECT RAISE(ABORT, 'issued documents never change; issue a credit note instead'); END;""")
    for table in APPEND_ONLY:
        statements.append(f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'append-only rows never change'); END;""")
    return statements


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = _postgres_sql() if vendor == "postgresql" else _sqlite_sql() if vendor == "sqlite" else []
    for sql in statements:
        schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in ALL:
        suffix = "frozen" if table in FROZEN else "append_only"
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_{suffix}" + (f" ON {table}" if vendor == "postgresql" else "")
        )
        if vendor == "postgresql":
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_{suffix}()")


class Migration(migrations.Migration):
    dependencies = [("invoices", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
