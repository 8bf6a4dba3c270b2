import os

from django.core.wsgi import get_wsgi_application

from config.runtime import settle_long_lived_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()


def _load_every_view() -> None:
    """Import every view module now, before the first request (and before freezing them)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property imports the URL modules


_load_every_view()
settle_long_lived_process()
