"""PDF benchmark: render 200 invoices and credit notes as the worker does; time per PDF and peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/seatbill .venv/bin/python bench/pdf_render.py
    .venv/bin/python bench/pdf_render.py --count 500 --store

Numbers are printed, not asserted (goal: median under 100 ms per PDF). What it does:

1. A throwaway database (`<DATABASE_URL name>_pdf_bench`, made and dropped as the test
   runner does), migrated; the four public scenarios (tests/scenarios/public/0*.json) are played
   through the real services, which issue 16 invoices and credit notes.
2. One warm-up render (fontconfig, WeasyPrint's imports and the template load are paid
   once per worker process, reported apart), then `--count` renders round-robin over every
   document in en, da, de and nb: `invoices.pdf.render_document`, i.e. the document's
   view (translations, Babel formatting), the template, and WeasyPrint to PDF bytes.
   With --store, each render also goes through storage and the database as the task
   does (each render under a template version of its own, so that none is skipped as stored).
3. Median, p95 and max milliseconds per PDF (wall clock, and this process's CPU time,
   which a busy machine disturbs less), the PDF sizes, and the process's peak
   resident memory (resource.getrusage ru_maxrss) before and after rendering.
"""

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios" / "public"
LANGUAGES = ("en", "da", "de", "nb")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="PDFs to render (default 200).")
    parser.add_argument("--store", action="store_true", help="Also store each PDF and record its row.")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up, as a worker could at start: fewer long full collections.",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seatbill")
    import tempfile

    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="pdf-bench-")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_pdf_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return _run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _run(args) -> int:
    import invoices.services
    from invoices import delivery, pdf
    from invoices.models import CreditNote, Invoice
    from seats.simulation import run_scenario

    # Issue without the after-commit delivery: the first render below is then the process's first.
    invoices.services.delivery_enqueue = lambda **kwargs: None
    started = time.perf_counter()
    for path in sorted(SCENARIOS.glob("0*.json")):
        if path.name.endswith(".expected.json"):
            continue
        run_scenario(json.loads(path.read_text(encoding="utf-8")), keep=True)
    documents = list(Invoice.objects.select_related("organization").prefetch_related("lines"))
    documents += list(CreditNote.objects.select_related("organization", "invoice").prefetch_related("lines"))
    print(
        f"{len(documents)} documents issued by the shared scenarios in {time.perf_counter() - started:.1f} s"
    )

    before = _peak_mib()
    t0 = time.perf_counter()
    pdf.render_document(documents[0], language="en")
    warm_up_ms = (time.perf_counter() - t0) * 1000
    after_warm_up = _peak_mib()
    if args.gc_freeze:
        import gc

        gc.freeze()

    jobs = [(document, language) for language in LANGUAGES for document in documents]
    timings, cpu_timings, sizes = [], [], []
    for index in range(args.count):
        document, language = jobs[index % len(jobs)]
        t0, c0 = time.perf_counter(), time.process_time()
        if args.store:
            version = f"bench{index}"  # a version of its own: nothing is skipped as already stored
            pdf.TEMPLATE_VERSIONS.setdefault(version, pdf.TEMPLATE_VERSIONS["v1"])
            document.organization.language = language
            stored = delivery.document_pdf_render(
                document=document, template_version=version, at=dt.datetime.now(dt.UTC)
            )
            size = stored.size_bytes
        else:
            size = len(pdf.render_document(document, language=language))
        timings.append((time.perf_counter() - t0) * 1000)
        cpu_timings.append((time.process_time() - c0) * 1000)
        sizes.append(size)

    timings.sort()
    cpu_timings.sort()

    def p95(values):
        return values[min(len(values) - 1, int(round(0.95 * len(values))) - 1)]

    what = "rendered and stored" if args.store else "rendered"
    print(
        f"{len(timings)} PDFs {what} ({len(documents)} documents x {len(LANGUAGES)} languages, round-robin)"
    )
    print(f"warm-up (first PDF of the process): {warm_up_ms:.0f} ms")
    print(
        f"per PDF, wall clock: median {statistics.median(timings):.1f} ms, p95 {p95(timings):.1f} ms, "
        f"max {timings[-1]:.1f} ms, mean {statistics.fmean(timings):.1f} ms"
    )
    # CPU time of this process: what a PDF costs a worker, whatever else the machine runs.
    print(f"per PDF, CPU: median {statistics.median(cpu_timings):.1f} ms, p95 {p95(cpu_timings):.1f} ms")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"PDF size: median {statistics.median(sizes) / 1024:.1f} KiB, max {max(sizes) / 1024:.1f} KiB")
    print(
        f"peak RSS: {before:.0f} MiB before the first PDF, {after_warm_up:.0f} MiB after it, "
        f"{_peak_mib():.0f} MiB after all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
