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
import shutil
import socket
import subprocess
import sys
import tempfile
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
    from core import clock
    from organizations.credentials import credential_create
    from organizations.models import Credential, Organization

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
    _key, secret = credential_create(
        organization=organization,
        kind=Credential.Kind.API_KEY,
        name="bench",
        at=now,
        scopes=["usage:write", "usage:read", "entitlements:read"],
    )
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

    def __init__(self, server_pid: int, proxy_pid: int | None = None):
        self.server_pid = server_pid
        self.proxy_pid = proxy_pid
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
        sample = {
            "gunicorn": {pid: cpu for pid, parent, _n, cpu in processes if parent == self.server_pid},
            "PostgreSQL": {pid: cpu for pid, _p, name, cpu in processes if name.startswith("postgres")},
            "load generator": {os.getpid(): sum(os.times()[:2])},
        }
        if self.proxy_pid is not None:
            sample["nginx"] = {pid: cpu for pid, parent, _n, cpu in processes if parent == self.proxy_pid}
        return sample

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
        self.per_process = {
            group: {pid: cpu - self.before[group].get(pid, 0.0) for pid, cpu in pids.items()}
            for group, pids in after.items()
        }
        return {group: sum(spent.values()) for group, spent in self.per_process.items()}

    def shares(self, group: str) -> str:
        """How `group`'s CPU split over its processes, busiest first ("52 / 48 %"): with
        kept-alive connections, how evenly the gunicorn workers shared the work."""
        spent = sorted(self.per_process.get(group, {}).values(), reverse=True)
        total = sum(spent)
        return " / ".join(f"{cpu / total * 100:.0f}" for cpu in spent) + " %" if total else "unknown"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def nginx_binary() -> str | None:
    """nginx if it is installed here (`apt-get install nginx-light`), for `Server(proxy=True)`."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )


class Server:
    """gunicorn serving config.wsgi with production settings against the bench database, as
    docker-compose runs it (config/gunicorn.py: gunicorn's threaded workers, the collector
    tuned); with `proxy`, behind nginx with deploy/nginx.conf, as docker-compose puts it."""

    def __init__(self, *, workers: int, threads: int = 1, proxy: bool = False):
        self.gunicorn_port = free_port()
        self.workers = workers
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DATABASE_URL=BENCH_URL,
            SECRET_KEY=secrets.token_urlsafe(60),
            SECURE_SSL_REDIRECT="0",
            DB_CONN_MAX_AGE="600",
            LOG_LEVEL="WARNING",
            SITE_URL="https://billing.example.com",  # production requires it; the bench sends no mail
        )
        # Production requires Redis: the brute-force counters, and the API's rate limits, which
        # every request with a key takes from in one round trip (organizations.throttling).
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "-c",
                str(ROOT / "config/gunicorn.py"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.gunicorn_port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        self.proxy = None
        try:
            _wait_for_port(self.gunicorn_port, self.process, "gunicorn")
            self.port = self._start_proxy() if proxy else self.gunicorn_port
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def _start_proxy(self) -> int:
        """nginx with deploy/nginx.conf in a scratch prefix, its addresses made local."""
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
        self.prefix = tempfile.mkdtemp(prefix="seatbill-bench-nginx-")
        port = free_port()
        config = (ROOT / "deploy/nginx.conf").read_text()
        for old, new in [
            ("server web:8000 resolve;", f"server 127.0.0.1:{self.gunicorn_port};"),
            ("listen 8080;", f"listen 127.0.0.1:{port};"),
            ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{free_port()};"),
            # Scratch files in the prefix, not in the system's nginx folders.
            (
                "http {",
                "http {\n"
                + "".join(
                    f"    {kind}_temp_path {self.prefix}/{kind};\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
                ),
            ),
        ]:
            if old not in config:
                raise RuntimeError(f"deploy/nginx.conf no longer says {old!r}: update bench/usage_common.py")
            config = config.replace(old, new, 1)
        path = Path(self.prefix) / "nginx.conf"
        path.write_text(config)
        self.proxy = subprocess.Popen(
            [binary, "-p", self.prefix, "-c", str(path), "-g", f"daemon off; pid {self.prefix}/nginx.pid;"],
            cwd=self.prefix,
        )
        _wait_for_port(port, self.proxy, "nginx")
        return port

    def connections_per_worker(self) -> list[int]:
        """Open connections held by each gunicorn worker process, busiest first (Linux `ss`):
        the clients' own, or behind the proxy, nginx's.

        A kept-alive connection stays with the worker that accepted it, so the spread says how
        many cores really serve the load."""
        try:
            listing = subprocess.run(
                ["ss", "-tnpH", "state", "established", f"( sport = :{self.gunicorn_port} )"],
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
        for process in (self.proxy, self.process):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.proxy is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
