"""Dates in English (config/formats/__init__.py)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
