"""Every page, e-mail and PDF in English, Danish, German and Norwegian Bokmål (Swedish falls
back to English): the catalogues are complete, and the key pages render in Danish."""

import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.contrib.auth import get_user_model

from tests.dashboard.support import build_organization

LOCALE = Path(__file__).resolve().parents[1] / "locale"
LANGUAGES = ("da", "de", "nb")


def _catalog(language):
    with open(LOCALE / language / "LC_MESSAGES" / "django.po", "rb") as handle:
        return read_po(handle, locale=language)


def _untranslated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not all(strings)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_has_no_untranslated_or_fuzzy_entry(language):
    catalog = _catalog(language)
    messages = [message for message in catalog if message.id]
    assert len(messages) > 500  # the whole product, not only the invoices
    assert [message.id for message in messages if _untranslated(message)] == []
    assert [message.id for message in messages if message.fuzzy] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_the_placeholders(language):
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\}")
    wrong = []
    for message in _catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(placeholder.findall(ids[-1]))
        for string in strings:
            if not set(placeholder.findall(string)) <= expected | set(placeholder.findall(ids[0])):
                wrong.append(ids[0])
    assert wrong == []


def _text(response) -> str:
    """What people read: tags dropped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.fixture
def danish_owner(client, db):
    build_organization()
    client.force_login(get_user_model().objects.get(username="owner@nordlys.example"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "da"
    return client


@pytest.mark.parametrize(
    ("url", "danish", "english"),
    [
        (
            "/o/nordlys/",
            ["Oversigt", "Medlemmer", "Nuværende plan", "Forbrug", "Seneste fakturaer", "Skift plan"],
            ["Overview", "Current plan", "Recent invoices", "Change plan"],
        ),
        (
            "/o/nordlys/members/",
            [
                "Medlemmer",
                "Invitér en person",
                "Ventende invitationer",
                "Ingen åbne invitationer.",
                "Ejer",
                "Rolle",
            ],
            ["Invite someone", "Pending invitations", "No open invitations."],
        ),
        (
            "/o/nordlys/seats/",
            ["Pladser", "Inkluderede og oprettede enheder", "Betalt", "Nuværende periode slutter"],
            ["Units included and created", "Paid for", "Current term ends"],
        ),
    ],
)
def test_key_pages_render_in_danish_for_an_owner(danish_owner, url, danish, english):
    response = danish_owner.get(url)
    assert response.status_code == 200
    assert '<html lang="da">' in response.content.decode()
    page = _text(response)
    assert [word for word in danish if word not in page] == []
    assert [sentence for sentence in english if sentence in page] == []


# Issue 22, item 5 ---------------------------------------------------------------------------


def test_msgfmt_counts_no_untranslated_or_fuzzy_message_in_any_catalogue(tmp_path):
    """`msgfmt --statistics` of every catalogue under locale/: translated messages only; and
    the committed .mo is what `manage.py compilemessages` makes of the .po."""
    catalogues = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
    assert {path.parts[-3] for path in catalogues} >= set(LANGUAGES)
    for po in catalogues:
        compiled = tmp_path / f"{po.parts[-3]}.mo"
        result = subprocess.run(
            ["msgfmt", "--check-format", "--statistics", "-o", str(compiled), str(po)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert re.fullmatch(r"\d+ translated messages\.\n", result.stderr), (po, result.stderr)
        assert compiled.read_bytes() == po.with_suffix(".mo").read_bytes(), f"{po}: run compilemessages"


def test_every_language_offered_has_a_complete_catalogue():
    """Swedish had no catalogue and was offered: its pages mixed in English."""
    offered = {code for code, _name in settings.LANGUAGES}
    assert offered == {"en", "da", "de", "nb"}
    assert offered - {"en"} <= {path.parts[-3] for path in LOCALE.glob("*/LC_MESSAGES/django.po")}


@pytest.mark.django_db
def test_no_menu_offers_swedish(danish_owner):
    for url in ("/o/nordlys/", "/o/nordlys/settings/"):
        html = danish_owner.get(url).content.decode()
        assert 'value="sv"' not in html and "Svenska" not in html
