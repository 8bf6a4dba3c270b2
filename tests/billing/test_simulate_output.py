"""`simulate --keep` prints only its JSON on stdout: e-mails the scenario sends (the console
backend's messages, with base64 PDFs) go to stderr, so the output can be piped (issue 23)."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.scenarios import PUBLIC


@pytest.mark.django_db(transaction=True)
@override_settings(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
def test_simulate_keep_prints_only_json_on_stdout(capsys):
    scenario = PUBLIC / "01-annual-seat-addon.json"
    out = io.StringIO()
    call_command("simulate", str(scenario), "--keep", stdout=out)
    json.loads(out.getvalue())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Subject:" in captured.err  # the e-mails were sent, to stderr
