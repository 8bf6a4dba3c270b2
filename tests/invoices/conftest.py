"""Fixtures for the invoices tests: real documents from the public scenarios, a private media root."""

import json
import subprocess
from pathlib import Path

import pytest

from organizations.models import Organization
from seats.simulation import run_scenario
from tests.scenarios import PUBLIC

SCENARIO_NAMES = [
    "01-annual-seat-addon",
    "02-team-free-seats-yearly",
    "03-team-monthly-add-remove",
    "04-minimum-commitment-units",
    "units/06-users-and-numbers",  # units other than seats (seed 001): phone numbers on their own lines
]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored PDFs go to a directory of this test, never to the checkout's media/."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def play(db):
    """play('01-annual-seat-addon') -> the Organization the scenario billed, kept in the test database."""

    def run(name: str, **customer) -> Organization:
        scenario = json.loads((PUBLIC / f"{name}.json").read_text(encoding="utf-8"))
        if customer:
            scenario["customer"] = {**scenario.get("customer", {}), **customer}
        result = run_scenario(scenario, keep=True)
        return Organization.objects.get(pk=result["organization_id"])

    return run


def pdf_text(content: bytes) -> str:
    """The PDF's text as pdftotext reads it (layout kept), every run of white space one space."""
    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode("utf-8")
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def squash(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())
