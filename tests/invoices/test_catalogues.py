"""The gettext catalogues: complete in da, de and nb, and the committed .mo files match the .po files."""

import gettext
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from billing.domain.tax import MENTIONS
from invoices.presentation import TAX_MENTIONS

LOCALE = Path(__file__).resolve().parents[2] / "locale"
LANGUAGES = ("da", "de", "nb")


def _catalog(language):
    with open(LOCALE / language / "LC_MESSAGES" / "django.po", "rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_not_fuzzy(language):
    untranslated = [
        message.id
        for message in _catalog(language)
        if message.id
        and (
            message.fuzzy
            or not all(message.string if isinstance(message.string, tuple) else [message.string])
        )
    ]
    assert untranslated == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_matches_the_po(language):
    """`manage.py compilemessages` was run after the last .po change (the .mo files are committed)."""
    with open(LOCALE / language / "LC_MESSAGES" / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for message in _catalog(language):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            got = [compiled.ngettext(message.id[0], message.id[1], n) for n in (1, 2)]
            if got != list(message.string):
                stale.append(message.id[0])
        elif message.context:  # `{% translate "Scopes" context "API key" %}`
            if compiled.pgettext(message.context, message.id) != message.string:
                stale.append(message.id)
        elif compiled.gettext(message.id) != message.string:
            stale.append(message.id)
    assert stale == []


def test_the_tax_mentions_are_the_billing_engines_word_for_word():
    assert TAX_MENTIONS == MENTIONS
