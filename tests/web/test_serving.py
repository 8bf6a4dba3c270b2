"""The web service's serving shape (docker-compose.yml): gunicorn with config/gunicorn.py, behind
nginx with deploy/nginx.conf.

These run the real programs in subprocesses, serving tests/web/echo_app.py, which answers
with what reached it. The proxy's tests need nginx here (Debian: nginx-light) and skip
without it; docker-compose runs nginx's official image.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "the server exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            assert time.monotonic() < deadline, "the server did not start listening"
            time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def gunicorn():
    """gunicorn as docker-compose runs it (config/gunicorn.py), two workers, serving the echo app."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "config/gunicorn.py",
            "tests.web.echo_app:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "WEB_GC_TUNING": "0"},  # the hook loads Django's views; the echo app has none
    )
    try:
        _wait_for(port, process)
        yield port
    finally:
        _stop(process)


def _local_nginx_config(directory: Path, *, upstream: int, port: int) -> Path:
    """deploy/nginx.conf with its addresses made local and its scratch files in `directory`."""
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in [
        ("server web:8000 resolve;", f"server 127.0.0.1:{upstream};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{_free_port()};"),
        (
            "http {",
            "http {\n"
            + "".join(f"    {kind}_temp_path {directory}/{kind};\n" for kind in ("client_body", "proxy"))
            + "".join(f"    {kind}_temp_path {directory}/{kind};\n" for kind in ("fastcgi", "uwsgi", "scgi")),
        ),
    ]:
        assert old in config, old
        config = config.replace(old, new, 1)
    path = directory / "nginx.conf"
    path.write_text(config)
    return path


def _nginx_command(config: Path, *, foreground: bool = False) -> list[str]:
    main = f"{'daemon off; ' if foreground else ''}pid {config.parent}/nginx.pid;"
    return [NGINX, "-p", str(config.parent), "-c", str(config), "-g", main]


@pytest.fixture
def proxy(gunicorn, tmp_path):
    port = _free_port()
    config = _local_nginx_config(tmp_path, upstream=gunicorn, port=port)
    process = subprocess.Popen(_nginx_command(config, foreground=True))
    try:
        _wait_for(port, process)
        yield port
    finally:
        _stop(process)


def _ask(connection: http.client.HTTPConnection, method="GET", body=None, headers=None) -> tuple[int, dict]:
    connection.request(method, "/", body=body, headers=headers or {})
    response = connection.getresponse()
    payload = response.read()
    return response.status, (json.loads(payload) if response.status == 200 else {})


def test_a_kept_alive_connection_stays_open_on_one_threaded_worker(gunicorn):
    connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=10)
    _status, first = _ask(connection)
    sock = connection.sock
    answers = [_ask(connection)[1] for _ in range(5)]
    assert connection.sock is sock  # never closed and reopened
    assert {answer["pid"] for answer in answers} == {first["pid"]}
    connection.close()


@needs_nginx
def test_the_proxy_config_parses(tmp_path):
    config = _local_nginx_config(tmp_path, upstream=_free_port(), port=_free_port())
    result = subprocess.run([*_nginx_command(config), "-t"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@needs_nginx
def test_the_proxy_passes_the_host_the_scheme_and_the_clients_address(proxy):
    """What the app reads behind docker-compose's two proxies: Host as the client sent it, the
    scheme the TLS-terminating proxy set, and X-Forwarded-For with the address nginx saw
    appended (TRUSTED_PROXY_HOPS=2 in .env.example picks the TLS proxy's entry)."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
    status, seen = _ask(
        connection,
        headers={
            "Host": "billing.example.com",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
        },
    )
    assert status == 200
    assert (seen["host"], seen["forwarded_proto"]) == ("billing.example.com", "https")
    assert seen["forwarded_for"] == "203.0.113.7, 127.0.0.1"
    connection.close()


@needs_nginx
def test_the_proxy_takes_a_full_usage_batch_and_refuses_what_django_would(proxy):
    """A 1,000-event batch is about 200 KB; Django refuses bodies over 2.5 MB itself."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
    batch = b"x" * 1_000_000
    status, seen = _ask(connection, "POST", batch, {"Content-Type": "application/json"})
    assert (status, seen["body_length"]) == (200, len(batch))
    connection.close()
    refused = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
    status, _seen = _ask(refused, "POST", b"x" * 4_000_000, {"Content-Type": "application/json"})
    assert status == 413
    refused.close()
