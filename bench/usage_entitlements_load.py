"""Entitlement checks under load from a second process (issue 6, benchmark 2).

    .venv/bin/python bench/usage_entitlements_load.py [--rate 500] [--seconds 10] [--workers 2]
                                                      [--proxy auto|nginx|none]

Starts gunicorn as docker-compose runs it (production settings, config/gunicorn.py: gthread
workers, keep-alive) and, from this process, sends
GET /api/v1/organizations/<id>/entitlements/ai_tokens?quantity=1 with an API key at a fixed
rate (open loop: request i is due at start + i / rate), over kept-alive connections. With
`--proxy nginx` (the default `auto`: when nginx is installed here), through nginx with
deploy/nginx.conf, as docker-compose puts it in front; `none`: straight to gunicorn. Prints
requests/s achieved and latency p50 / p99 / max, measured from when each request was due (so
queueing counts), and how the gunicorn workers shared the work. Goal: p99 under 10 ms at
500 requests/s.
"""

import argparse
import http.client
import json
import random
import socket
import threading
import time

import usage_common


class KeptAliveClient:
    """One kept-alive HTTP/1.1 connection that sends a prepared GET and reads the answer.

    The load generator shares the server's two cores, so it should cost little: http.client
    parses every response's headers with the e-mail parser, which cost a few tenths of a
    millisecond a request, as much as a fifth of what the server spent. This reads only the
    status line, Content-Length or chunks, and Connection."""

    def __init__(self, port: int, request: bytes):
        self.port, self.request = port, request
        self.sock: socket.socket | None = None
        self.buffer = b""

    def get(self) -> tuple[int, bytes]:
        """(status, body); reconnects once when the server had closed the connection."""
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buffer = b""
            try:
                self.sock.sendall(self.request)
                return self._read_response()
            except OSError:  # ConnectionError included
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read_response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, closing = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value == b"chunked"
            elif name == b"connection":
                closing = value == b"close"
        body = self._read_chunked() if chunked else self._read_exactly(length)
        if closing:
            self.close()
        return status, body

    def _read_exactly(self, length: int) -> bytes:
        while len(self.buffer) < length:
            self._receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._receive()
            size_line, _, self.buffer = self.buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            chunk = self._read_exactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return body
            body += chunk[:-2]

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def run_load(port: int, path: str, secret: str, rate: float, seconds: float, connections: int):
    total = int(rate * seconds)
    next_index = [0]
    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]
    started = time.perf_counter() + 0.2
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {secret}\r\n\r\n"

    def worker():
        client = KeptAliveClient(port, request.encode())
        while True:
            with lock:
                index = next_index[0]
                if index >= total:
                    break
                next_index[0] += 1
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                status, body = client.get()
                ok = status == 200 and b'"allowed"' in body
            except (OSError, ValueError, IndexError):
                client.close()
                ok = False
            finished = time.perf_counter()
            with lock:
                latencies.append(finished - due)
                if not ok:
                    failures[0] += 1
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return elapsed, sorted(latencies), failures[0]


# Steal from which the tails measured on the development VM grew past the goal (README).
STEAL_THAT_SHOWS = 0.02


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument(
        "--threads", type=int, default=2, help="Threads per gunicorn worker (docker-compose runs 2)."
    )
    parser.add_argument("--connections", type=int, default=16, help="Client keep-alive connections.")
    parser.add_argument(
        "--proxy",
        choices=["auto", "nginx", "none"],
        default="auto",
        help="Through nginx with deploy/nginx.conf (auto: when nginx is installed), or straight to gunicorn.",
    )
    args = parser.parse_args()
    proxy = args.proxy == "nginx" or (args.proxy == "auto" and usage_common.nginx_binary() is not None)

    usage_common.setup_django()
    from core import clock
    from usage.services import usage_record_batch

    organization, secret = usage_common.bench_organization(token_limit=50_000_000)
    now = clock.now()
    rng = random.Random(6)
    for b in range(20):  # some usage, so the rollups hold rows
        usage_record_batch(
            organization=organization,
            events=[
                {
                    "event_id": f"warm-{b}-{n}",
                    "meter": "ai_tokens",
                    "quantity": rng.randint(1, 4000),
                    "timestamp": now.isoformat(),
                    "dimensions": {"model": "gpt-x", "action": "chat"},
                }
                for n in range(1000)
            ],
            at=now,
        )
    path = f"/api/v1/organizations/{organization.pk}/entitlements/ai_tokens?quantity=1"
    with usage_common.Server(workers=args.workers, threads=args.threads, proxy=proxy) as server:
        # Warm every worker's connection and code paths.
        run_load(server.port, path, secret, rate=200, seconds=1, connections=4)
        print(usage_common.machine_speed())
        spread = []
        sampler = threading.Timer(args.seconds / 2, lambda: spread.extend(server.connections_per_worker()))
        sampler.start()
        meter = usage_common.CpuMeter(server.process.pid, server.proxy and server.proxy.pid)
        meter.start()
        elapsed, latencies, failures = run_load(
            server.port, path, secret, args.rate, args.seconds, args.connections
        )
        cpu = meter.stop()
        sampler.join()
        print(usage_common.machine_speed())
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        conn.request("GET", path, headers={"Authorization": f"Bearer {secret}"})
        response = conn.getresponse()
        body = response.read()
        sample = json.loads(body) if response.status == 200 else f"HTTP {response.status}: {body[:200]!r}"
    ms = [v * 1000 for v in latencies]
    print(f"sample: {sample}")
    print(
        f"served {'through nginx (deploy/nginx.conf)' if proxy else 'by gunicorn directly, no proxy'};"
        f" {args.connections} client connections, {args.workers} gunicorn workers x {args.threads} threads"
    )
    print(
        f"connections per gunicorn worker, mid-run: {', '.join(map(str, spread)) or 'unknown'}"
        f" ({'from nginx' if proxy else 'the clients'});"
        f" the workers' shares of gunicorn's CPU: {meter.shares('gunicorn') if cpu else 'unknown'}"
    )
    print(
        f"{len(ms):,} requests in {elapsed:.1f}s = {len(ms) / elapsed:,.0f} req/s (target {args.rate:,.0f});"
        f" failures {failures}"
    )
    if cpu:
        print(f"CPU per request: {meter.summary(cpu, len(ms), elapsed)}")
    p99 = percentile(ms, 0.99)
    print(
        f"latency ms: p50 {percentile(ms, 0.50):.2f}  p90 {percentile(ms, 0.90):.2f}"
        f"  p99 {p99:.2f}  max {ms[-1]:.2f}  (goal p99 < 10 ms)"
    )
    if p99 >= 10 and meter.stolen is not None and meter.stolen >= STEAL_THAT_SHOWS:
        print(
            f"note: the hypervisor took {meter.stolen * 100:.0f} % of the cores' time during this run."
            " On the 2-core development VM every run at 0-1 % steal met the goal and runs at 8 % or"
            " more did not (README, Performance): run again when it is quieter to see the code's own."
        )


if __name__ == "__main__":
    main()
