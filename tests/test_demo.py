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

# A living demo (issue 23, item 6): months of usage through the ingestion service, priced.
import datetime as dt
from dashboard.demo import OPERATOR_EMAIL
from invoices.models import Invoice
from organizations.models import PartnerLink
from usage import selectors as usage_reads
today = clock.today_in("UTC")
meters = {m.meter: m for m in usage_reads.usage_overview(organization=nordlys, on=today).meters}
assert meters["ai_tokens"].used > 1_000_000 and meters["documents"].used > 0, meters
monthly = usage_reads.tokens_monthly(organization=nordlys, on=today)
assert sum(1 for v in monthly.values if v) >= 5, monthly  # months of history, not one day
costs = usage_reads.cost_by_action(organization=nordlys, on=today)
assert costs.currency == "EUR" and len(costs.labels) >= 3 and all(v > 0 for v in costs.values), costs
page = client.get("/o/nordlys/statistics/").content.decode()
assert "nova-large" in page and "chat" in page, "the charts' tables list models and actions"
assert "€0.00" not in page
statuses = set(Invoice.objects.filter(organization=nordlys).values_list("status", flat=True))
assert statuses == {"paid", "open"}, statuses

# The operator's staff login reaches the Django admin and the model prices.
operator = Client()
assert operator.login(username=OPERATOR_EMAIL, password="demo-password-2026")
assert operator.get("/admin/usage/modelprice/").status_code == 200
assert client.get("/admin/").status_code == 302  # an organization's owner is not staff

# The partner's clients started months ago, mid-period: a handover today is settled by day.
clients = PartnerLink.objects.filter(partner__slug="revisor").select_related("organization")
started = sorted(link.organization.subscriptions.get().anchor for link in clients)
assert started[0] <= today - dt.timedelta(days=59), started
mid = [link.organization for link in clients
       if link.organization.subscriptions.get().current_period_start < today]
assert mid, "a client whose current period started before today"
import re
# One started on the 15th, one on the 1st: on any day, one of them is mid-period.
answer = partner.post(f"/o/{mid[0].slug}/subscription/status/edit/", {
    "plan": "business-monthly", "superuser_name": "Bo Hansen", "superuser_reference": "",
    "superuser_email": "bo@bageriet.example", "action": "preview"})
assert answer.status_code == 200, answer.status_code
found = re.findall(r"([0-9]+/[0-9]+)[^0-9]", answer.content.decode())
fractions = {tuple(map(int, f.split("/"))) for f in found}
assert any(0 < n < d for n, d in fractions), fractions  # settled by day, not a whole period
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


def test_the_demo_prints_the_operators_staff_login():
    """The operator logs into the Django admin with the credentials the demo and README print."""
    from dashboard.demo import DEMO_PASSWORD, OPERATOR_EMAIL

    readme = (ROOT / "README.md").read_text()
    assert OPERATOR_EMAIL in readme and DEMO_PASSWORD in readme and "/admin/" in readme


def test_make_run_serves_on_PORT_with_the_beat_schedule_in_process():
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert plan.returncode == 0, plan.stderr
    assert "manage.py demo_serve 127.0.0.1:8123" in plan.stdout
