"""The API's contract: a valid OpenAPI document, and docs pages that work offline."""

import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from tests.factories import UserFactory

OPERATION_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_passes_openapi_spec_validator(schema):
    validate(schema)  # raises on the first violation


def test_every_operation_has_a_description_and_documents_429(schema):
    operations = [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in OPERATION_METHODS
    ]
    assert operations
    for method, path, operation in operations:
        assert operation.get("description") not in (None, "", operation.get("summary")), f"{method} {path}"
        too_many = operation["responses"]["429"]
        assert "Retry-After" in too_many["headers"], f"{method} {path}"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_nothing_from_another_host(url):
    client = Client()
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    # Any absolute or protocol-relative URL would be a CDN the page needs at runtime.
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page), page
    assert "cdn." not in page and "@latest" not in page


def _validate(example, schema_fragment, components):
    """`example` against a schema fragment of the document (its $refs resolved in it)."""
    from openapi_schema_validator import OAS30Validator

    OAS30Validator({**schema_fragment, "components": components}).validate(example)


def test_every_operation_has_examples_that_match_its_schema(schema):
    """An example request (where there is a body), an example of the success answer (where it
    has one) and of each error answer, 429 included; each one valid against its schema."""
    components = schema["components"]
    missing, invalid = [], []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method not in OPERATION_METHODS:
                continue
            where = f"{method.upper()} {path}"
            parts = [("request", operation.get("requestBody", {}).get("content", {}).get("application/json"))]
            parts += [
                (status, answer.get("content", {}).get("application/json"))
                for status, answer in operation["responses"].items()
            ]
            assert "429" in operation["responses"], where
            for part, media in parts:
                if media is None:
                    continue
                if "example" not in media:
                    missing.append((where, part))
                    continue
                try:
                    _validate(media["example"], media["schema"], components)
                except Exception as exc:  # noqa: BLE001 - reported together below
                    invalid.append((where, part, str(exc).splitlines()[0]))
    assert missing == []
    assert invalid == []
