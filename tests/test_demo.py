"""`make run`'s path: the demo on SQLite, seeded by the real services, serves its pages.

The rest of the suite runs on PostgreSQL; this catches what only SQLite refuses.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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
