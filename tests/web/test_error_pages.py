"""Error answers that say what happened (issue 21, finding 4): through HTTP, DEBUG off, the
exception not re-raised into the test (as a real server answers).

People get a styled page that says whether to try again; `/api/` clients the API's one error
body `{"code", "message", "field"}`; `/scim/` clients RFC 7644's error schema. The 500 answer
reads nothing from the database: it is what a person sees while the database is down.
"""

import pytest
from django.db import connection
from django.test import Client

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def client(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.web.failing_urls"
    return Client(raise_request_exception=False)


@pytest.fixture
def database_refused():
    """Every query during the request fails, as with the database down."""

    def refuse(execute, sql, params, many, context):
        raise AssertionError(f"an error answer queried the database: {sql}")

    with connection.execute_wrapper(refuse):
        yield


def test_a_server_error_page_says_whether_to_try_again_and_needs_no_database(client, database_refused):
    response = client.get("/boom/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "Open the page again to see whether it was, and try again only if it was not" in page
    assert "css/app.css" in page  # styled, not Django's bare "Server Error (500)"
    assert "Server Error (500)" not in page


def test_a_server_error_under_the_api_answers_the_apis_error_body(client, database_refused):
    response = client.get("/api/v1/boom/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "field"}
    assert body["code"] == "server_error" and body["field"] is None
    assert "may or may not have taken effect" in body["message"]


def test_a_server_error_under_scim_answers_scims_error_schema(client, database_refused):
    response = client.get("/scim/v2/boom")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [SCIM_ERROR]
    assert body["status"] == "500"
    assert body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/no-such-page/", 404, "This page does not exist"),
        ("/forbidden/", 403, "You may not do this"),
    ],
)
def test_not_found_and_forbidden_pages_say_nothing_changed_and_retrying_will_not_help(
    client, path, status, says
):
    response = client.get(path)

    assert response.status_code == status
    page = response.content.decode()
    assert says in page
    assert "Nothing was changed. Trying again will not help" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/api/v1/no-such-endpoint/", 404, "not_found"), ("/api/v1/forbidden/", 403, "permission_denied")],
)
def test_api_not_found_and_forbidden_answer_the_apis_error_body(client, path, status, code):
    response = client.get(path)

    assert response.status_code == status
    assert response.json() == {"code": code, "message": response.json()["message"], "field": None}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "status"), [("/scim/no-such-endpoint", 404), ("/scim/v2/forbidden", 403)])
def test_scim_not_found_and_forbidden_answer_scims_error_schema(client, path, status):
    response = client.get(path)

    assert response.status_code == status
    assert response.json()["schemas"] == [SCIM_ERROR]
    assert response.json()["status"] == str(status)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "path", "status", "says"),
    [
        ("da", "/no-such-page/", 404, ["Denne side findes ikke", "tjek adressen", "Gå til forsiden"]),
        ("de", "/forbidden/", 403, ["Das dürfen Sie nicht", "Ihre Rolle erlaubt das nicht"]),
        ("nb", "/boom/", 500, ["Noe gikk galt hos oss", "Åpne siden igjen"]),
    ],
)
def test_the_error_pages_speak_the_readers_language(client, language, path, status, says):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == status
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    for text in says:
        assert text in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "This form has expired"),
        ("da", "Denne formular er udløbet"),
        ("de", "Dieses Formular ist abgelaufen"),
        ("nb", "Dette skjemaet er utløpt"),
    ],
)
def test_a_form_posted_without_its_csrf_token_gets_our_page_with_a_way_back(settings, language, says):
    """CSRF_FAILURE_VIEW: not Django's bare "Forbidden (403) CSRF verification failed"."""
    settings.DEBUG = False
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/login/", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 403
    page = response.content.decode()
    assert says in page
    assert "css/app.css" in page and 'href="/"' in page  # styled, with the way back to the start page
    assert "CSRF verification failed" not in page
