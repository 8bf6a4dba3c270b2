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
