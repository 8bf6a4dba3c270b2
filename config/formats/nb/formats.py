"""Dates in Norwegian Bokmål (config/formats/__init__.py)."""

DATE_FORMAT = "j. F Y"
DATETIME_FORMAT = "j. F Y, H:i"
