"""The generated OpenAPI document: each operation's scope (`ApiAutoSchema`, the
DEFAULT_SCHEMA_CLASS) and its post-processing (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""

from drf_spectacular.openapi import AutoSchema

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
TOO_MANY_REQUESTS = {
    "description": "A limit was reached: wait the seconds in Retry-After, then try again.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _move_defaults_beside_one_of(schema) -> None:
    # drf-spectacular writes an optional blank field (`allow_blank`, `default=""`) as
    # `oneOf: [{format or pattern, default: ""}, {maxLength: 0}]`: the default sits in the
    # branch that refuses it, and openapi-spec-validator fails the whole document. The
    # default belongs to the `oneOf`, which admits it.
    if isinstance(schema, dict):
        for branch in schema.get("oneOf", []):
            if isinstance(branch, dict) and "default" in branch:
                schema.setdefault("default", branch.pop("default"))
        for value in schema.values():
            _move_defaults_beside_one_of(value)
    elif isinstance(schema, list):
        for value in schema:
            _move_defaults_beside_one_of(value)


def complete_contract(result, generator, request, public):
    """Every operation documents 429 with Retry-After; defaults sit where the validator
    accepts them."""
    _move_defaults_beside_one_of(result.get("components", {}).get("schemas", {}))
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            too_many = operation["responses"].setdefault("429", dict(TOO_MANY_REQUESTS))
            too_many.setdefault("headers", RETRY_AFTER)
    return result


class ApiAutoSchema(AutoSchema):
    """Each operation names the API key scope it needs: in its description (people read it in
    /api/docs/) and as `x-required-scope` (programs read it; tests/test_api_scopes.py holds
    docs/api.md's list of operations to it)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        required_scope = getattr(self.view, "required_scope", None)
        if operation is None or required_scope is None:
            return operation
        scope = required_scope(self.method)
        if scope and scope != "-":
            operation["x-required-scope"] = str(scope)
            note = f"API key scope: `{scope}`."
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        return operation
