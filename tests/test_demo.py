"""`make run`'s path: the demo on SQLite, seeded by the real services, serves its pages.

The rest of the suite runs on PostgreSQL; this catches what only SQLite refuses.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_SHIFT = ("LD_PRELOAD", "FAKETIME", "DONT_FAKE_MONOTONIC", "PYTHONPATH")

VISIT = """
from django.test import Client
client = Client()
assert client.login(username="owner@nordlys.example", password="demo-password-2026")
for path in ["/o/nordlys/", "/o/nordlys/members/", "/o/nordlys/invoices/", "/o/nordlys/seats/",
             "/o/nordlys/statistics/", "/o/nordlys/billing/payments/", "/o/nordlys/plan/"]:
    status = client.get(path).status_code
    assert status == 200, (path, status)
assert client.get("/o/rheinfon/").status_code == 404
partner = Client()
assert partner.login(username="owner@revisor.example", password="demo-password-2026")
assert partner.get("/o/revisor/companies/").status_code == 200

# Usage on SQLite: the VALUES fallback of ingestion, and the entitlement's plain SQL.
from core import clock
from organizations.credentials import credential_create
from organizations.models import Credential, Organization
nordlys = Organization.objects.get(slug="nordlys")
_key, secret = credential_create(organization=nordlys, kind=Credential.Kind.API_KEY, name="demo check",
                                 at=clock.now(), scopes=["usage:write", "usage:read", "entitlements:read"])
machine = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
event = {"event_id": "demo-1", "meter": "ai_tokens", "quantity": 1200, "timestamp": clock.now().isoformat(),
         "dimensions": {"model": "m", "action": "chat"}}
answer = machine.post("/api/v1/usage/events", {"events": [event, event]}, content_type="application/json")
assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.content
answer = machine.get(f"/api/v1/organizations/{nordlys.pk}/entitlements/ai_tokens?quantity=1")
assert answer.status_code == 200 and answer.json()["used"] >= 1200, answer.content
assert answer.json()["resets_on"], answer.content
print("demo pages ok")
"""


def test_the_demo_seeds_and_serves_on_sqlite(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "ALLOWED_HOSTS": "testserver",
    }
    if "FAKETIME" in os.environ:  # `make test-at` moves the clock of every process, the demo's too
        env.update({name: os.environ[name] for name in CLOCK_SHIFT if name in os.environ})
    for command in (["migrate", "--no-input", "-v", "0"], ["seed_demo"], ["shell", "-c", VISIT]):
        run = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert (
        "owner@nordlys.example"
        in subprocess.run(
            [sys.executable, "manage.py", "seed_demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    ), "running it again prints the logins and adds nothing"
    assert "demo pages ok" in run.stdout
