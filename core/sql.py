"""Plain SQL for the few hot reads where building the statement with the ORM cost several times
PostgreSQL's answer (docs/performance.md, "Public mechanisms"): a module-level SQL string with
%s parameters, run with cursor.execute, and its rows made into model instances with
`Model.from_db`, Django's documented way to load an instance from database values.

The column lists come from the models (the same `_meta.concrete_fields` and `attname` as the
`from_db` example in Django's documentation), so a field added to a model is read here too.
"""

import functools

from django.db.models import Model


def select_list(model: type[Model], table: str) -> str:
    """`model`'s columns read from `table` (its alias in the statement), in `instance`'s order."""
    return ", ".join(f'{table}."{field.column}"' for field in model._meta.concrete_fields)


@functools.cache
def _field_names(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def instance(model: type[Model], alias: str, values) -> Model:
    """A `model` instance loaded from database `alias`, from the values of `select_list(model, ...)`."""
    return model.from_db(alias, _field_names(model), values)


def width(model: type[Model]) -> int:
    """How many values `select_list(model, ...)` reads: where the next model's columns start."""
    return len(_field_names(model))
