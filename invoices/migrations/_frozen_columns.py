"""Reinstalling the triggers of migration 0002 when a migration adds columns to issued documents.

A new column of Invoice or CreditNote is set when the document is issued and frozen from
then on, like the others: the migration that adds it calls `refreeze(extra)` with every
column added since 0002 (the lists only grow), and `dropped` with every column of 0002's
lists removed since (invoices 0009: the invoice's subscription_id).
"""

import importlib

from django.db import migrations

_initial = importlib.import_module("invoices.migrations.0002_immutable_documents")


def refreeze(extra: dict[str, list[str]], dropped: dict[str, list[str]] | None = None) -> migrations.RunPython:
    dropped = dropped or {}

    def frozen_with_extra():
        return {
            table: [c for c in columns if c not in dropped.get(table, [])] + extra.get(table, [])
            for table, columns in _initial.FROZEN.items()
        }

    def statements(vendor: str) -> list[str]:
        saved = _initial.FROZEN
        _initial.FROZEN = frozen_with_extra()
        try:
            return _initial._postgres_sql() if vendor == "postgresql" else _initial._sqlite_sql()
        finally:
            _initial.FROZEN = saved

    def drop(schema_editor):
        vendor = schema_editor.connection.vendor
        for table in _initial.FROZEN:
            on = f" ON {table}" if vendor == "postgresql" else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen{on}")

    def install(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in ("postgresql", "sqlite"):
            return
        drop(schema_editor)
        for sql in statements(vendor):
            if "_frozen" in sql:  # the append-only triggers stay as they are
                schema_editor.execute(sql, params=None)

    return migrations.RunPython(install, migrations.RunPython.noop)
