"""Shared set-up of the usage benchmarks: a dedicated database, an organization on a plan with
an API key, and a gunicorn server in the production shape (config.settings.production).

Numbers are reported, not asserted. The database named by BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/seatbill_usage_bench) is created, migrated and its
usage tables emptied.
"""

import datetime as dt
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/seatbill_usage_bench"
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = BENCH_URL
    _create_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database() -> None:
    import psycopg

    url = urlparse(BENCH_URL)
    name = url.path.lstrip("/")
    admin = BENCH_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def bench_organization(*, token_limit: int | None = 10**12):
    """A fresh organization on a monthly plan anchored on the 1st, and an API key; usage emptied."""
    from django.db import connection

    from billing.models import Plan, PlanLimit, Subscription
    from config import clock
    from organizations.models import Organization
    from usage.services import api_key_create

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE usage_usageevent, usage_usageeventkey, usage_usageperiodtotal, usage_usagecounter,"
            " usage_usagedailytotal, usage_usagealert"
        )
    now = clock.now()
    today = now.date()
    anchor = today.replace(day=1)
    end = (anchor + dt.timedelta(days=32)).replace(day=1)
    organization = Organization.objects.create(name="Bench", slug=f"bench-{secrets.token_hex(4)}")
    plan, _ = Plan.objects.get_or_create(code="bench", defaults={"name": "Bench", "included_seats": 5})
    PlanLimit.objects.update_or_create(
        plan=plan, meter="ai_tokens", defaults={"limit": token_limit, "hard": True}
    )
    Subscription.objects.create(
        organization=organization,
        plan=plan,
        anchor=anchor,
        current_period_start=anchor,
        current_period_end=end,
        created_at=now,
    )
    _key, secret = api_key_create(organization=organization, name="bench", at=now)
    return organization, secret


def machine_speed() -> str:
    """The CPU time of a fixed pure-Python loop, median of three: a reading of how fast this
    shared machine runs right now, printed before and after a measurement. On the 2-core
    development machine, idle, it read anywhere from 125 to 207 ms within minutes."""
    timings = []
    for _ in range(3):
        started = time.process_time()
        total = 0
        for number in range(3_000_000):
            total += number
        timings.append(time.process_time() - started)
    return f"machine: a fixed Python loop took {sorted(timings)[1] * 1000:,.0f} ms (lower is faster)"


def core_times() -> tuple[int, int]:
    """(steal, all) clock ticks of the cores since boot, from /proc/stat's first line (Linux)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice; guests are in user.
    return ticks[7], sum(ticks[:8])


def stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the cores' time between two `core_times()` the hypervisor gave elsewhere."""
    steal, total = (now - then for now, then in zip(after, before, strict=True))
    return steal / total if total else None


class CpuMeter:
    """CPU seconds spent, between start() and stop(), by the gunicorn workers, by PostgreSQL
    (all its processes) and by this load generator, read from /proc (Linux); and the share of
    the cores' time the hypervisor gave to other machines ("steal"), which no code here can
    win back: on this kind of virtual machine it rose from about 0 % idle to 15 % under load,
    in bursts that stall every process at once."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.available = os.path.isdir("/proc/self")

    @staticmethod
    def _processes() -> list[tuple[int, int, str, float]]:
        """(pid, parent pid, command name, CPU seconds) of every process."""
        found = []
        ticks = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            found.append((int(entry), int(fields[1]), name, (int(fields[11]) + int(fields[12])) / ticks))
        return found

    def _sample(self) -> dict:
        processes = self._processes()
        return {
            "gunicorn": {pid: cpu for pid, parent, _n, cpu in processes if parent == self.server_pid},
            "PostgreSQL": {pid: cpu for pid, _p, name, cpu in processes if name.startswith("postgres")},
            "load generator": {os.getpid(): sum(os.times()[:2])},
        }

    def start(self) -> None:
        self.before = self._sample() if self.available else {}
        self.cores_before = core_times() if self.available else (0, 0)
        self.stolen = None

    def summary(self, cpu: dict, count: int, elapsed: float) -> str:
        """CPU per unit of work of each group, how busy the cores were and the steal, as one line."""
        each = ", ".join(f"{group} {seconds / count * 1000:.2f} ms" for group, seconds in cpu.items())
        busy = sum(cpu.values()) / (elapsed * os.cpu_count()) * 100
        stolen = "" if self.stolen is None else f", {self.stolen * 100:.0f} % stolen by the hypervisor"
        return f"{each}; {busy:.0f} % of {os.cpu_count()} cores busy{stolen}"

    def stop(self) -> dict:
        """CPU seconds per group; processes that started meanwhile count from zero."""
        if not self.available:
            return {}
        after = self._sample()
        self.stolen = stolen_share(self.cores_before, core_times())
        return {
            group: sum(cpu - self.before[group].get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in after.items()
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAIR_SHARE_WORKER = "config.web_worker.FairShareThreadWorker"  # as docker-compose runs gunicorn


class Server:
    """gunicorn serving config.wsgi with production settings against the bench database."""

    def __init__(self, *, workers: int, threads: int = 1, worker_class: str = FAIR_SHARE_WORKER):
        self.port = free_port()
        self.workers = workers
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DATABASE_URL=BENCH_URL,
            SECRET_KEY=secrets.token_urlsafe(60),
            SECURE_SSL_REDIRECT="0",
            DB_CONN_MAX_AGE="600",
            LOG_LEVEL="WARNING",
        )
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                worker_class,
                "--threads",
                str(threads),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def connections_per_worker(self) -> list[int]:
        """Open client connections held by each worker process, busiest first (Linux `ss`).

        A kept-alive connection stays with the worker that accepted it, so the spread says how
        many cores really serve the load (config/web_worker.py keeps it even)."""
        try:
            listing = subprocess.run(
                ["ss", "-tnpH", "state", "established", f"( sport = :{self.port} )"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return []
        counts: dict[str, int] = {}
        for line in listing.splitlines():
            for pid in re.findall(r"pid=(\d+)", line)[:1]:
                counts[pid] = counts.get(pid, 0) + 1
        return sorted(counts.values(), reverse=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
