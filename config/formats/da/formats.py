"""Dates in Danish (config/formats/__init__.py)."""

DATE_FORMAT = "j. b. Y"
DATETIME_FORMAT = "j. b. Y, H:i"
