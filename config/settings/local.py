"""The demo run: SQLite file, console e-mail, Celery eager unless a broker is configured."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", True)
