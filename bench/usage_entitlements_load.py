"""Entitlement checks under load from a second process (issue 6, benchmark 2).

    .venv/bin/python bench/usage_entitlements_load.py [--rate 500] [--seconds 10] [--workers 2]

Starts gunicorn (production settings, gthread workers, keep-alive) and, from this process,
sends GET /api/v1/organizations/<id>/entitlements/ai_tokens?quantity=1 with an API key at a
fixed rate (open loop: request i is due at start + i / rate). Prints requests/s achieved
and latency p50 / p99 / max, measured from when each request was due (so queueing counts).
Goal: p99 under 10 ms at 500 requests/s.
"""

import argparse
import http.client
import json
import random
import threading
import time

import usage_common


def run_load(port: int, path: str, secret: str, rate: float, seconds: float, connections: int):
    total = int(rate * seconds)
    next_index = [0]
    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]
    started = time.perf_counter() + 0.2

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {secret}"}
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
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200 and b'"allowed"' in body
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            finished = time.perf_counter()
            with lock:
                latencies.append(finished - due)
                if not ok:
                    failures[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return elapsed, sorted(latencies), failures[0]


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
    args = parser.parse_args()

    usage_common.setup_django()
    from config import clock
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
    with usage_common.Server(workers=args.workers, threads=args.threads) as server:
        # Warm every worker's connection and code paths.
        run_load(server.port, path, secret, rate=200, seconds=1, connections=4)
        print(usage_common.machine_speed())
        spread = []
        sampler = threading.Timer(args.seconds / 2, lambda: spread.extend(server.connections_per_worker()))
        sampler.start()
        elapsed, latencies, failures = run_load(
            server.port, path, secret, args.rate, args.seconds, args.connections
        )
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
        f"client connections per gunicorn worker, mid-run: {', '.join(map(str, spread)) or 'unknown'}"
        f" ({args.connections} connections, {args.workers} workers)"
    )
    print(
        f"{len(ms):,} requests in {elapsed:.1f}s = {len(ms) / elapsed:,.0f} req/s (target {args.rate:,.0f});"
        f" failures {failures}"
    )
    print(
        f"latency ms: p50 {percentile(ms, 0.50):.2f}  p90 {percentile(ms, 0.90):.2f}"
        f"  p99 {percentile(ms, 0.99):.2f}  max {ms[-1]:.2f}  (goal p99 < 10 ms)"
    )


if __name__ == "__main__":
    main()
