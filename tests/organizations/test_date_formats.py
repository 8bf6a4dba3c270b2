"""One date format per language (config/formats/, FORMAT_MODULE_PATH), the same in templates'
`|date` and in organizations.formatting.date: no ISO dates on the Members and Audit pages,
and September is "Sep" everywhere in English, never "Sept" on one page and "Sep" on another."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.utils import translation

from organizations import formatting as fmt
from organizations.models import Membership
from tests.dashboard.support import build_organization

SEPTEMBER_1 = dt.date(2026, 9, 1)
EXPECTED = {"en": "1 Sep 2026", "da": "1. sept. 2026", "de": "01.09.2026", "nb": "1. september 2026"}


@pytest.mark.parametrize(("language", "expected"), EXPECTED.items())
def test_python_and_templates_write_a_date_the_same_way(language, expected):
    assert fmt.date(SEPTEMBER_1, language) == expected
    with translation.override(language):
        assert Template("{{ day|date }}").render(Context({"day": SEPTEMBER_1})) == expected


def test_a_language_without_a_catalogue_writes_english_dates():
    assert fmt.date(SEPTEMBER_1, "sv") == "1 Sep 2026"


def _text(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def owner(client, db):
    build_organization()
    client.force_login(get_user_model().objects.get(username="owner@nordlys.example"))
    return client


@pytest.mark.parametrize(
    ("language", "pattern"),
    [("en", r"\d{1,2} [A-Z][a-z]{2} 20\d\d"), ("da", r"\d{1,2}\. [a-z]{3,4}\. 20\d\d")],
)
@pytest.mark.parametrize("path", ["/o/nordlys/members/", "/o/nordlys/audit/"])
def test_members_and_audit_pages_show_the_languages_date_not_iso(owner, language, pattern, path):
    owner.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    joined = Membership.objects.filter(organization__slug="nordlys").order_by("joined_on").first().joined_on
    assert re.fullmatch(pattern, fmt.date(joined, language))

    text = _text(owner.get(path))

    assert fmt.date(joined, language) in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "an ISO date is shown"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Organization created", "Members added"]),
        ("da", ["Organisation oprettet", "Medlemmer tilføjet"]),
    ],
)
def test_the_audit_log_says_what_happened_in_words_not_codes(owner, language, words):
    owner.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    text = _text(owner.get("/o/nordlys/audit/"))

    for word in words:
        assert word in text
    assert "organization.created" not in text and "members.add" not in text


def test_every_audit_action_the_code_records_has_words_in_every_language():
    from pathlib import Path

    from organizations.audit_words import ACTION_WORDS

    root = Path(__file__).resolve().parents[2]
    recorded = set()
    for path in root.glob("*/**/*.py"):
        if path.parts[len(root.parts)] in {"tests", ".venv", "bench"}:
            continue
        recorded |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    assert recorded - set(ACTION_WORDS) == set()
    for language in ("da", "de", "nb"):
        with translation.override(language):
            untranslated = [
                code for code, words in ACTION_WORDS.items() if translation.gettext(words) == words
            ]
        assert untranslated == [], language
