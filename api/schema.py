"""The generated OpenAPI document: each operation's scope (`ApiAutoSchema`, the
DEFAULT_SCHEMA_CLASS) and its post-processing (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""

import copy
import functools
import json
import re
from pathlib import Path

from drf_spectacular.openapi import AutoSchema

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
TOO_MANY_REQUESTS = {
    "description": (
        "A limit was reached (the key's or the organization's rate limit: `rate_limited`; too many "
        "bad keys from one address: `too_many_failed_keys`; invitations: `throttled`): wait the "
        "seconds in Retry-After, then try again."
    ),
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
EXAMPLES = Path(__file__).with_name("examples.json")


@functools.cache
def examples() -> dict:
    """Each operation's example request and success response (api/examples.json: answers the
    API gave in a test, trimmed to two items per list; tests/test_api_contract.py holds them to
    the schema)."""
    return json.loads(EXAMPLES.read_text())


def error_example(status: str, scope: str | None) -> dict:
    """An example of the one error format for `status`."""
    code, message = {
        "400": ("invalid", "count: Ensure this value is greater than or equal to 1."),
        "401": ("not_authenticated", "Authentication credentials were not provided."),
        "403": ("permission_denied", "Your role (Member) does not allow this."),
        "404": ("not_found", "No such organization."),
        "409": ("preview_stale", "The amounts changed since the preview; preview again."),
        "415": ("unsupported_media_type", 'Unsupported media type "text/plain" in request.'),
        "422": (
            "idempotency_key_reused",
            "This Idempotency-Key was used for another request; use a new key for a new request.",
        ),
        "429": ("rate_limited", "Too many requests for this API key or organization. Try again in 1 second."),
    }.get(status, ("error", "What went wrong, and what to do next."))
    body = {"code": code, "message": message, "field": None}
    if status == "400":
        body["fields"] = {"count": ["Ensure this value is greater than or equal to 1."]}
    if status == "403" and scope:
        body.update(
            code="scope_missing",
            message=f"This API key lacks the scope {scope}; an owner can create a key with it on the API "
            "keys page.",
            scope=scope,
        )
    return body


def _add_examples(operation: dict) -> None:
    name = operation.get("operationId")
    request = examples()["requests"].get(name)
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and request is not None:
        body["example"] = request
    for status, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json")
        if content is None:
            continue
        if status.startswith("2"):
            if name in examples()["responses"]:
                content["example"] = examples()["responses"][name]
        else:
            content["example"] = error_example(status, operation.get("x-required-scope"))


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


def _nullable_refs_as_one_of(schema) -> None:
    # drf-spectacular writes a nullable nested object as `allOf: [$ref], nullable: true`;
    # OpenAPI 3.0 validators (openapi-schema-validator, and so schemathesis) read `nullable` as
    # not reaching into the `allOf`, and refuse the null the API sends. `oneOf` the object or
    # null says it for every reader.
    if isinstance(schema, dict):
        if schema.get("nullable") is True and len(schema.get("allOf", ())) == 1:
            schema["oneOf"] = [schema.pop("allOf")[0], {"type": "object", "nullable": True, "enum": [None]}]
            del schema["nullable"]
        for value in schema.values():
            _nullable_refs_as_one_of(value)
    elif isinstance(schema, list):
        for value in schema:
            _nullable_refs_as_one_of(value)


def _name_enum_values(schemas: dict) -> None:
    # Generated clients name each enum value after the value: openapi-python-client dropped the
    # colon of a scope (`billing:read` became BILLINGREAD). `x-enum-varnames` gives every value of a
    # string enum its name (BILLING_READ); an enum that names its values itself keeps its names.
    for schema in schemas.values():
        values = schema.get("enum") if isinstance(schema, dict) else None
        if not values or "x-enum-varnames" in schema or not all(isinstance(v, str) for v in values):
            continue
        names = [re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper() for value in values]
        if all(names) and len(set(names)) == len(names):
            schema["x-enum-varnames"] = names


INVALID_IDEMPOTENCY_KEY = {
    "description": "Invalid input; `invalid_idempotency_key`: the Idempotency-Key is empty or too long.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _takes_idempotency_key(operation: dict) -> bool:
    return any(
        parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key"
        for parameter in operation.get("parameters", ())
    )


def published_paths_only(endpoints):
    """The API's paths as published (no trailing slash); the slashed addresses of api/urls.py
    that clients of the first version may still call stay out of the document."""
    return [endpoint for endpoint in endpoints if not endpoint[0].endswith("/")]


def complete_contract(result, generator, request, public):
    """Every operation documents 429 with Retry-After, and 400 where it takes an Idempotency-Key
    (an empty or too long one is refused before anything runs), and carries examples (request,
    success, each error); defaults sit where the validator accepts them; enum values have names."""
    _move_defaults_beside_one_of(result.get("components", {}).get("schemas", {}))
    _nullable_refs_as_one_of(result.get("components", {}).get("schemas", {}))
    _name_enum_values(result.get("components", {}).get("schemas", {}))
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            too_many = operation["responses"].setdefault("429", copy.deepcopy(TOO_MANY_REQUESTS))
            too_many.setdefault("headers", copy.deepcopy(RETRY_AFTER))
            if _takes_idempotency_key(operation):
                operation["responses"].setdefault("400", copy.deepcopy(INVALID_IDEMPOTENCY_KEY))
                operation["responses"] = dict(sorted(operation["responses"].items()))
            _add_examples(operation)
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
