"""Every API URL refuses in the one error format, `{"code", "message", "field"}` (api.base).

Walks every URL pattern under /api/v1/ (as tests/test_api_options.py does), so endpoints added
later are covered, and asks each by GET and POST: anonymously, as a logged-in outsider, as a
member without write rights, and with an API key of the organization that holds the usage
scopes only (403 `scope_missing`, naming the scope, elsewhere).
"""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from organizations.credentials import credential_create
from organizations.models import Credential, Role
from tests.factories import UserFactory
from tests.partners.support import add_member, client, monthly_plans, partner_firm
from tests.test_api_options import api_paths

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 3, 2)


def test_every_api_url_refuses_in_the_one_error_format():
    firm, owner = partner_firm(on=ON)
    team, _plus = monthly_plans()
    client_organization = client(firm, owner, name="Klient ApS", on=ON, plan=team, seats=3).organization
    member = add_member(firm, "member@revisorhuset.dk", Role.MEMBER, ON)
    _key, secret = credential_create(
        organization=firm,
        kind=Credential.Kind.API_KEY,
        name="Backend",
        at=dt.datetime.now(dt.UTC),
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
    callers = {
        who: APIClient(raise_request_exception=False) for who in ("anonymous", "outsider", "member", "key")
    }
    callers["outsider"].force_authenticate(UserFactory())
    callers["member"].force_authenticate(member)
    callers["key"].credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    refusals = {}
    for path in [path for path in api_paths(firm, client_organization) if path.startswith("/api/v1/")]:
        for who, caller in callers.items():
            for method in ("get", "post"):
                answer = getattr(caller, method)(path, {}, format="json" if method == "post" else None)
                assert answer.status_code < 500, (who, method, path)
                if answer.status_code >= 400:
                    refusals[(who, method, path)] = answer

    assert {answer.status_code for answer in refusals.values()} == {400, 401, 403, 404, 405}
    for (who, method, path), answer in refusals.items():
        body = answer.json()
        optional = {"fields", "scope"}  # invalid input; an API key without the operation's scope
        assert {"code", "message", "field"} <= set(body) <= {"code", "message", "field", *optional}, (
            who,
            method,
            path,
            body,
        )
        assert body["code"] and body["message"], (who, method, path, body)
        if body["code"] == "scope_missing":
            assert body["scope"] in body["message"], (method, path, body)
        if answer.status_code == 401:
            assert answer["WWW-Authenticate"] == "Bearer", (who, method, path)


def test_invalid_items_of_a_list_are_named_by_their_path():
    """`fields` is one list of messages per input, as documented: DRF's nested errors of a list
    (`{"labels": {"1": [...]}}`) are named `labels.1`."""
    from tests.billing.test_api import Team

    team = Team()
    team.unit()  # the plan's phone numbers
    answer = team.client().post(
        team.url("units/preview"),
        {"unit": "phone_numbers", "labels": ["+45 1", "", "+45 3", ""]},
        format="json",
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {
        "labels.1": ["This field may not be blank."],
        "labels.3": ["This field may not be blank."],
    }
    assert body["message"] == "labels: 1: This field may not be blank."


def test_a_body_beyond_djangos_limits_is_refused_in_the_one_error_format():
    """More form fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django's limit, met while DRF parses
    the body, answers 400 in the API's format rather than Django's HTML page."""
    from tests.billing.test_api import Team

    team = Team()
    body = "&".join(f"labels=%2B45{number}" for number in range(1001))
    answer = team.client().post(
        team.url("units/preview"), body, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "parse_error"
