"""config.web_worker: gunicorn's threaded workers share kept-alive connections evenly.

Plain gthread lets whichever worker wakes first take a new connection, and one of two often
took nearly all of them. These tests run the real gunicorn with FairShareThreadWorker in a
subprocess, serving tests/web/pid_app.py, which answers with the serving worker's pid.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from config.web_worker import fair_share

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_may_accept_while_no_sibling_holds_fewer():
    assert fair_share(0, [])
    assert fair_share(3, [3, 4])
    assert not fair_share(4, [3, 4])
    assert fair_share(0, [0, 0, 0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server():
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tests.web.pid_app:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "config.web_worker.FairShareThreadWorker",
            "--threads",
            "2",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while len(_worker_pids(process.pid)) < 2:
            assert time.monotonic() < deadline, "gunicorn did not start two workers"
            time.sleep(0.1)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _worker_pids(arbiter_pid: int) -> list[int]:
    children = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _open(port: int, count: int) -> list[tuple[http.client.HTTPConnection, int]]:
    """`count` kept-alive connections, opened one after another; each with the pid that serves it."""
    opened = []
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        opened.append((connection, int(response.read())))
    return opened


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker pids from /proc (Linux)")
def test_two_workers_share_sixteen_kept_alive_connections_evenly(server):
    port, _process = server
    opened = _open(port, 16)
    assert sorted(Counter(pid for _c, pid in opened).values()) == [8, 8]
    # The same connection stays with its worker.
    connection, pid = opened[0]
    connection.request("GET", "/")
    assert int(connection.getresponse().read()) == pid
    for connection, _pid in opened:
        connection.close()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker pids from /proc (Linux)")
def test_a_killed_worker_leaves_no_share_behind_that_blocks_new_connections(server):
    port, process = server
    opened = _open(port, 6)
    killed = opened[0][1]
    os.kill(killed, signal.SIGKILL)  # it can't free its slot: its count stays in shared memory
    for connection, _pid in opened:
        connection.close()
    started = time.monotonic()
    again = _open(port, 8)  # answered by the survivor, then by the replacement as well
    assert time.monotonic() - started < 5
    assert killed not in {pid for _c, pid in again}
    for connection, _pid in again:
        connection.close()
