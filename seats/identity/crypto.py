"""Encrypting the identity provider's client secret at rest.

Fernet (AES-128-CBC with HMAC-SHA256) with a key derived from SECRET_KEY: rotating
SECRET_KEY makes stored secrets unreadable, and owners then enter the secret again
(`decrypt` returns "" and the SSO page says so).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"seatbill.sso-client-secret:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
