"""Before and after: the benchmarks of `make bench` and `make bench-usage` on the code of a base
commit and on this checkout, in alternating runs, then one table.

    make bench-compare
    .venv/bin/python bench/compare.py [--base 6983718] [--runs 3]
                                      [--only renewals,ingest,replay,entitlements,overview]

The base's code is checked out as a git worktree in /tmp (reused by the next call while it is
at the same commit) that runs with this checkout's .venv. Each side runs its own bench/
scripts, against databases of its own (the two sides may have different migrations). Runs
alternate, before then after, then after then before, so that the shared machine's drift
falls on both sides alike. Before each run the script reads, for 3 s, how busy other
processes keep the cores ("others"); each benchmark prints the hypervisor's steal during its
own measurement ("steal"): read a row with both. Every run's output is kept in --logs.
Non-interactive; exits 1 when a run failed (its log says why), after printing the table.

Numbers are reported, never asserted; the goals are printed beside them.
"""

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "6983718"  # main before issue 20's public mechanisms


def number(text: str) -> float:
    return float(text.replace(",", ""))


def last(pattern: str, output: str) -> re.Match | None:
    found = list(re.finditer(pattern, output, re.M))
    return found[-1] if found else None


def steal(output: str) -> float | None:
    """The highest steal any measurement of the run printed, in %."""
    values = [number(m) for m in re.findall(r"([\d.]+) % stolen by the hypervisor", output)]
    return max(values) if values else None


def parse_renewals(output: str) -> dict:
    row = last(r"^\s*2\s+([\d.]+)\s+([\d,]+)\s+([\d.]+)\s+([\d.]+ %|\?)", output)
    if row is None:
        return {}
    stolen = None if row[4] == "?" else number(row[4].rstrip(" %"))
    result = {"renew 10,000 s (2 workers)": number(row[1]), "steal %": stolen}
    # CPU a renewal, where the side's bench prints it (bench/renewals.py since issue 21's outbox).
    cpu = last(r"^\s*2\s+[\d.]+\s+[\d,]+\s+[\d.]+\s+(?:[\d.]+ %|\?)\s+([\d.]+), ([\d.]+)", output)
    if cpu is not None:
        result["worker CPU ms/renewal"] = number(cpu[1])
        result["PostgreSQL CPU ms/renewal"] = number(cpu[2])
    return result


def parse_ingest(output: str) -> dict:
    found = last(r"^median: ([\d,]+) events/s over HTTP.*?ratio to COPY ([\d.]+)", output)
    if found is None:
        return {}
    per_batch = [number(m) for m in re.findall(r"per batch gunicorn ([\d.]+) ms", output)]
    return {
        "events/s (median round)": number(found[1]),
        "ratio to COPY (median)": number(found[2]),
        "gunicorn CPU ms/batch": statistics.median(per_batch) if per_batch else None,
        "steal %": steal(output),
    }


def parse_replay(output: str) -> dict:
    found = last(r"^sent in ([\d.]+)s", output)
    if found is None:
        return {}
    return {"1,200,000 sent, s": number(found[1]), "checks failed": output.count("FAIL ")}


def parse_entitlements(output: str) -> dict:
    latency = last(r"^latency ms: p50 ([\d.]+)\s+p90 ([\d.]+)\s+p99 ([\d.]+)\s+max ([\d.]+)", output)
    if latency is None:
        return {}
    cpu = last(r"^CPU per request: gunicorn ([\d.]+) ms, PostgreSQL ([\d.]+) ms", output)
    rate = last(r"= ([\d,]+) req/s \(target", output)
    return {
        "p50 ms": number(latency[1]),
        "p99 ms": number(latency[3]),
        "max ms": number(latency[4]),
        "req/s": number(rate[1]) if rate else None,
        "gunicorn CPU ms/check": number(cpu[1]) if cpu else None,
        "PostgreSQL CPU ms/check": number(cpu[2]) if cpu else None,
        "steal %": steal(output),
    }


def parse_overview(output: str) -> dict:
    rows = re.findall(
        r"^\s*([\d,]+) events: tokens used .*?overview p50 ([\d.]+) ms.*?entitlement p50 ([\d.]+) ms",
        output,
        re.M,
    )
    if len(rows) < 2:
        return {}
    (big, big_overview, big_entitlement), (_small, small_overview, small_entitlement) = rows[-2:]
    return {
        f"overview p50 ms, {big} events": number(big_overview),
        "overview p50 ms, 10 events": number(small_overview),
        f"entitlement p50 ms, {big} events": number(big_entitlement),
        "entitlement p50 ms, 10 events": number(small_entitlement),
    }


# name -> (command after the tree's python, which database it needs, parser, goals)
BENCHMARKS = {
    "renewals": (
        ["bench/renewals.py", "--workers", "2"],
        "renewal",
        parse_renewals,
        "< 60 s with 2 workers",
    ),
    "ingest": (
        ["bench/usage_ingest.py", "--events", "300000"],
        "usage",
        parse_ingest,
        ">= 40,000 events/s and ratio >= 0.25",
    ),
    "replay": (["bench/usage_replay.py"], "usage", parse_replay, "checks all ok"),
    "entitlements": (
        ["bench/usage_entitlements_load.py", "--rate", "500", "--seconds", "20"],
        "usage",
        parse_entitlements,
        "p99 < 10 ms at 500 req/s",
    ),
    "overview": (
        ["bench/usage_overview_scale.py", "--events", "10000000"],
        "usage",
        parse_overview,
        "same time at 10 M events as at 10",
    ),
}


def cpu_ticks() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(value) for value in stat.readline().split()[1:]]


def others_busy(seconds: float = 3.0) -> float | None:
    """The share of the cores' time that other processes kept busy over `seconds`, in % (Linux)."""
    if not os.path.exists("/proc/stat"):
        return None
    before = cpu_ticks()
    time.sleep(seconds)
    after = cpu_ticks()
    spent = [now - then for now, then in zip(after, before, strict=True)]
    total = sum(spent[:8])  # user nice system idle iowait irq softirq steal; guests are in user
    idle = spent[3] + spent[4] + spent[7]  # idle, iowait, and steal (another machine's)
    return (total - idle) / total * 100 if total else None


def base_tree(base: str, logs: Path) -> Path:
    """A worktree of `base` in /tmp, with this checkout's .venv."""
    commit = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--verify", f"{base}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = Path("/tmp") / f"seatbill-before-{commit[:7]}"
    if tree.exists():
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        if head != commit:
            subprocess.run(["git", "-C", str(HERE), "worktree", "remove", "--force", str(tree)], check=True)
    if not tree.exists():
        subprocess.run(["git", "-C", str(HERE), "worktree", "prune"], check=True)
        subprocess.run(
            ["git", "-C", str(HERE), "worktree", "add", "--detach", str(tree), commit],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    venv = tree / ".venv"
    if not venv.exists():
        venv.symlink_to(os.path.realpath(HERE / ".venv"))
    (logs / "base.txt").write_text(f"{base} = {commit}, checked out in {tree}\n")
    return tree


def environment(side: str, database: str, args) -> dict:
    env = dict(os.environ)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")  # production settings require it
    env.pop("BENCH_DATABASE_URL", None)
    if database == "usage":
        env["BENCH_DATABASE_URL"] = f"{args.server}/{args.prefix}_{side}_usage"
    else:  # renewals.py names its databases after DATABASE_URL's: <name>_renewal_bench(_seed)
        env["DATABASE_URL"] = f"{args.server}/{args.prefix}_{side}"
    return env


def run_once(name: str, side: str, tree: Path, number_: int, args, logs: Path) -> dict:
    command, database, parse, _goal = BENCHMARKS[name]
    others = others_busy()
    log = logs / f"{name}-{side}-{number_}.log"
    started = time.monotonic()
    print(f"  {name:<13} {side:<6} run {number_} ...", end="", flush=True)
    try:
        result = subprocess.run(
            [str(tree / ".venv/bin/python"), *command],
            cwd=tree,
            env=environment(side, database, args),
            capture_output=True,
            text=True,
            timeout=args.timeout,
        )
        output, returncode = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as exc:
        output = f"{exc.stdout or ''}{exc.stderr or ''}\ntimed out after {args.timeout} s"
        returncode = -1
    log.write_text(output)
    metrics = parse(output) if returncode == 0 else {}
    metrics["others %"] = others
    ok = returncode == 0 and len(metrics) > 1
    print(f" {'ok' if ok else 'FAILED, see ' + str(log)} ({time.monotonic() - started:.0f} s)", flush=True)
    return metrics if ok else {"failed": log.name, "others %": others}


def show(value, metric: str = "") -> str:
    if value is None:
        return "?"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000 or metric.endswith("%"):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def table(results: dict, names: list[str]) -> str:
    lines = []
    for name in names:
        goal = BENCHMARKS[name][3]
        lines.append(f"\n{name} (goal: {goal})")
        metrics = []
        for side in ("before", "after"):
            for run in results[name][side]:
                metrics += [key for key in run if key not in metrics]
        width = max(len(metric) for metric in metrics)
        for metric in metrics:
            cells = []
            for side in ("before", "after"):
                values = [run.get(metric) for run in results[name][side]]
                numbers = [v for v in values if isinstance(v, int | float)]
                median = show(statistics.median(numbers), metric) if numbers else "?"
                cells.append(f"{side} {' '.join(show(v, metric) for v in values):<28} median {median:>8}")
            lines.append(f"  {metric:<{width}}  " + "   ".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help="The commit 'before' runs (default %(default)s)."
    )
    parser.add_argument("--runs", type=int, default=3, help="Runs of each benchmark on each side.")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="Benchmarks to run, comma-separated.")
    parser.add_argument(
        "--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL."
    )
    parser.add_argument(
        "--prefix", default="seatbill_compare", help="Prefix of the benchmark databases' names."
    )
    parser.add_argument("--timeout", type=int, default=3600, help="Seconds a single run may take.")
    parser.add_argument("--logs", help="Where the runs' output goes (default: a new folder in /tmp).")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; known: {', '.join(BENCHMARKS)}")
    logs = Path(args.logs or f"/tmp/seatbill-bench-compare-{dt.datetime.now():%Y%m%d-%H%M%S}")
    logs.mkdir(parents=True, exist_ok=True)
    trees = {"before": base_tree(args.base, logs), "after": HERE}
    after_head = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    print(f"before: {args.base} in {trees['before']}; after: {HERE} at {after_head}; logs in {logs}")

    results = {name: {"before": [], "after": []} for name in names}
    for number_ in range(1, args.runs + 1):
        order = ("before", "after") if number_ % 2 else ("after", "before")
        print(f"run {number_} of {args.runs} ({' then '.join(order)})")
        for name in names:
            for side in order:
                results[name][side].append(run_once(name, side, trees[side], number_, args, logs))
    report = (
        f"before = {args.base}, after = {after_head}; {args.runs} runs each, alternating;"
        " values in run order."
        "\nothers: % of the cores other processes kept busy in the 3 s before the run;"
        " steal: the hypervisor's, during the measurement."
        f"{table(results, names)}\n"
    )
    (logs / "table.txt").write_text(report)
    print(report)
    failed = [
        run["failed"] for name in names for side in results[name].values() for run in side if "failed" in run
    ]
    if failed:
        print(f"failed runs (logs in {logs}): {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
