"""Finding or creating the login of a person an identity provider vouches for."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def person_find(*, email: str):
    """The oldest login with this e-mail (or with it as user name), or None."""
    email = normalize_email(email)
    if not email:
        return None
    User = get_user_model()
    return User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk").first()


def person_get_or_create(*, email: str, first_name: str = "", last_name: str = ""):
    """The person's login, created without a usable password when new (they sign in by SSO
    or set a password through the reset link). Call inside the caller's transaction."""
    email = normalize_email(email)
    user = person_find(email=email)
    if user is not None:
        return user
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User(username=email, email=email, first_name=first_name[:150], last_name=last_name[:150])
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        # Someone created the same login a moment ago.
        return person_find(email=email)
