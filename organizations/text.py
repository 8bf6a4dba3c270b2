"""Text from outside (API bodies, query strings, forms) that PostgreSQL can and can't store."""


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
