"""The hot paths' queries: ORM queries compiled to SQL once, and cursors whose statements
PostgreSQL can prepare.

Every API-key request looks its key up, every entitlement check and ingested batch reads
the organization's subscription and limits, and every invoice issued reads the bill-to party
and the credit balance. Django compiles a queryset to SQL on each call, and for these small
queries that compilation costs several times PostgreSQL's answer: an entitlement check spent
two thirds of its time there, and the credit balance's read took 0.8 ms of Python through
the ORM against 0.2 ms compiled. The query is still written once, with the ORM; what is
reused is its SQL, with placeholder parameters swapped for the values of each call, and
Django's own converters applied to the columns it returns.

Django's cursors bind parameters client-side, as SQL text: PostgreSQL parses and plans each
statement anew, and quoting 1,000-element arrays costs more than the insert they feed.
`server_bound_cursor` sends the parameters apart from the SQL (in binary with `%b`), so
PostgreSQL prepares a statement after DB_PREPARE_THRESHOLD uses on a connection. It is
still Django's cursor: queries are logged and counted as any other.
"""

from dataclasses import dataclass

import psycopg
from django.db import connections
from django.db.models import QuerySet

# Placeholders for CompiledQuery.of: values no real argument takes.
PLACEHOLDER_ID = -7_301_000_000_001
PLACEHOLDER_TEXT = "\x00placeholder"


def concrete_attnames(model) -> list[str]:
    """The model's column attributes in its own order: what a compiled query selects to load
    instances (CompiledQuery.instances)."""
    return [field.attname for field in model._meta.concrete_fields]


def server_bound_cursor(connection):
    """A Django cursor on `connection` whose parameters PostgreSQL binds (see above)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    cursor = psycopg.Cursor(connection.connection)
    return (
        connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
    )


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: tuple
    slots: dict  # parameter position -> argument name
    names: tuple[str, ...]  # the .values() names, in column order
    converters: dict  # column position -> ([converter, ...], expression)
    alias: str

    @classmethod
    def of(cls, queryset: QuerySet, **placeholders) -> "CompiledQuery":
        """Compile a `.values()` queryset built with `placeholders` standing in for arguments.

        Each placeholder must be a value no real argument takes (a negative id, a string
        with a NUL byte), so that it can be found among the compiled parameters.
        """
        query = queryset.query
        compiler = query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        slots = {}
        for position, value in enumerate(params):
            for name, placeholder in placeholders.items():
                if type(value) is type(placeholder) and value == placeholder:
                    slots[position] = name
        missing = set(placeholders) - set(slots.values())
        if missing:
            raise ValueError(f"placeholders not found in the compiled query: {sorted(missing)}")
        names = (*query.extra_select, *query.values_select, *query.annotation_select)
        if len(names) != len(compiler.select):
            raise ValueError("compile a .values() queryset: its columns must be named")
        expressions = [column[0] for column in compiler.select]
        return cls(
            sql=sql,
            params=tuple(params),
            slots=slots,
            names=names,
            converters=compiler.get_converters(expressions),
            alias=queryset.db,
        )

    def first(self, **arguments) -> dict | None:
        """The first row, as .values().first() would give it, or None (compile it with [:1])."""
        rows = self.all(**arguments)
        return rows[0] if rows else None

    def instances(self, model, **arguments) -> list:
        """Every row as an instance of `model`, as list(queryset) would give them: compile the
        queryset's `.values(*concrete_attnames(model))`. Related objects are not attached."""
        names = tuple(concrete_attnames(model))
        if self.names != names:
            raise ValueError(f"compile .values(*concrete_attnames({model.__name__})) to load instances")
        return [
            model.from_db(self.alias, names, [row[name] for name in names]) for row in self.all(**arguments)
        ]

    def all(self, **arguments) -> list[dict]:
        """Every row, as list(.values()) would give them."""
        params = list(self.params)
        for position, name in self.slots.items():
            params[position] = arguments[name]
        connection = connections[self.alias]
        with server_bound_cursor(connection) as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        return [self._converted(list(row), connection) for row in rows]

    def _converted(self, row: list, connection) -> dict:
        for position, (converters, expression) in self.converters.items():
            value = row[position]
            for converter in converters:
                value = converter(value, expression, connection)
            row[position] = value
        return dict(zip(self.names, row, strict=True))
