"""Text from outside (API bodies, query strings, forms): what PostgreSQL can store, what may
go into an e-mail header, and how long an e-mail address may be."""

import unicodedata

# RFC 5321: the longest address a mail system must handle (a path of 256 with its brackets).
EMAIL_MAX_LENGTH = 254
# A person's address is their login's user name, which holds 150 characters (auth.User).
LOGIN_EMAIL_MAX_LENGTH = 150


def storable(text: str) -> bool:
    """Can a PostgreSQL text column hold `text`? Not with U+0000, nor with a lone UTF-16
    surrogate (JSON's "\\ud800" alone), which has no UTF-8 form: either fails the statement,
    and with it the whole request."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def single_line(text: str) -> bool:
    """Has `text` no control character (CR, LF, tab, NUL, the C1 range) and no line or
    paragraph separator? Names end up in e-mail subjects and headers, where a line break
    makes the message unsendable, or worse, adds a header."""
    return not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)
