"""The site's address as people reach it: every link an e-mail carries starts with it.

One setting, `SITE_URL` ("https://billing.example.com"), never the address of the request
that happened to set the e-mail off (a Host header, a worker with no request at all, a
development server's port).
"""

from django.conf import settings


def absolute_url(path: str) -> str:
    """SITE_URL followed by `path` ("/o/acme/invoices/")."""
    return settings.SITE_URL.rstrip("/") + path
