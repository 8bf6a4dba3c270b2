"""Fixtures for the payments tests: localstripe (plus the small fake) on 127.0.0.1, a clock near its own.

localstripe runs in its own virtualenv, built once per pinned requirements file under
/tmp (a file lock keeps parallel sessions from building it twice) and reused afterwards;
building it needs PyPI once, about half a minute. Without PyPI it falls back to the
project's virtualenv if localstripe is installed there, and says so. The server's state is
kept in memory only and dies with the test session.
"""

import datetime as dt
import fcntl
import hashlib
import socket
import subprocess
import sys
import time
import venv
import warnings
from pathlib import Path

import pytest
import requests

from .support import API_KEY, WEBHOOK_SECRET

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "localstripe-requirements.txt"
SERVER = HERE / "stripe_fake.py"


def _build_venv(target: Path) -> Path:
    python = target / "bin" / "python"
    done = target / ".installed"
    if done.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(target)
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    str(REQUIREMENTS),
                ],
                check=True,
                capture_output=True,
                timeout=600,
            )
            done.write_text(REQUIREMENTS.read_text())
    return python


@pytest.fixture(scope="session")
def localstripe_python() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    target = Path(f"/tmp/seatbill-localstripe-{digest}")
    try:
        return str(_build_venv(target))
    except (subprocess.SubprocessError, OSError) as exc:
        try:
            import localstripe  # noqa: F401
        except ImportError:
            pytest.skip(
                f"localstripe's virtualenv could not be built ({exc}) and localstripe is not installed"
            )
        warnings.warn(
            f"localstripe's own virtualenv could not be built ({exc}); running the one installed in "
            f"{sys.prefix} instead",
            stacklevel=1,
        )
        return sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def stripe_server(localstripe_python, tmp_path_factory) -> str:
    """The base URL of localstripe plus the fake, for the whole session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("localstripe") / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [localstripe_python, str(SERVER), "--port", str(port)], stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/v1/customers", auth=(API_KEY, ""), timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"localstripe did not start:\n{log.read_text()}")
        time.sleep(0.1)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def stripe_on(settings, stripe_server) -> str:
    """Card payments on, against localstripe; returns its base URL."""
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_seatbill_payments"
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.SITE_URL = "https://app.example.com"
    return stripe_server


@pytest.fixture
def stripe_off(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""


@pytest.fixture(autouse=True)
def no_document_delivery(monkeypatch):
    """The issue's PDF and e-mail (the invoices app's, tested there) stay out of these tests."""
    monkeypatch.setattr("invoices.services.delivery_enqueue", lambda **kwargs: None)


@pytest.fixture
def clock_start() -> dt.datetime:
    # Near the machine's time, unlike the rest of the suite: localstripe stamps its objects and
    # events, and signs the webhooks it sends, with its own (the machine's) clock.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
