"""Finding or creating the login of a person an identity provider vouches for, and cleaning
what a provider says about them (names, addresses: hostile input like any other)."""

import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q

MAX_EMAIL_LENGTH = 254  # RFC 5321's path limit, less the brackets


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def usable_email(email: str) -> bool:
    """Is `email` (normalized) an address we may store as a login's? Its user name is the
    address, so it must also fit the user name's column."""
    User = get_user_model()
    limit = min(MAX_EMAIL_LENGTH, User._meta.get_field(User.USERNAME_FIELD).max_length)
    if not email or len(email) > limit:
        return False
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def single_line(text, limit: int) -> str:
    """`text` as one storable line of at most `limit` characters: control and format
    characters (CR, LF, NUL, bidirectional overrides, zero-width ones) dropped, runs of
    whitespace made one space. For what a provider claims before it reaches a page, an
    e-mail or the audit log."""
    if not isinstance(text, str):
        return ""
    kept = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char)[0] != "C"
    )
    return " ".join(kept.split())[:limit]


def person_find(*, email: str):
    """The oldest login with this e-mail (or with it as user name), or None."""
    email = normalize_email(email)
    if not email:
        return None
    User = get_user_model()
    return User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk").first()


def person_get_or_create(*, email: str, first_name: str = "", last_name: str = ""):
    """The person's login, created without a usable password when new (they sign in by SSO,
    or claim the account through a password reset or an invitation: both prove the
    address). Callers decide whether they may create logins for this address (only in a
    domain their organization proved). Call inside the caller's transaction."""
    email = normalize_email(email)
    user = person_find(email=email)
    if user is not None:
        return user
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User(
                username=email,
                email=email,
                first_name=single_line(first_name, 150),
                last_name=single_line(last_name, 150),
            )
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        # Someone created the same login a moment ago.
        return person_find(email=email)
