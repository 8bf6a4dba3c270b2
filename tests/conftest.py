"""Fixtures shared by the whole suite."""

import datetime as dt
import os

import pytest
from django.db import connection


@pytest.fixture
def database_url(transactional_db) -> str:
    """The URL of the test database, for subprocesses (simulate, Celery workers) to connect to.

    Uses `transactional_db` so what a test writes is committed and visible to them.
    """
    settings = connection.settings_dict
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


@pytest.fixture
def subprocess_env(database_url) -> dict:
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url)
    return env


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)
