"""`make test` needs nothing outside the checkout: the shared folder beside a development
checkout is an extra, never a requirement (tests/scenarios/__init__.py)."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A path built into the shared folder: `... / "shared"` or a "../shared/scenarios" string.
SHARED_PATH = re.compile(r"""/\s*["']shared["']|["']\.\./shared/(?:scenarios|tools)""")


ALLOWED = {ROOT / "tests" / "scenarios" / "__init__.py", Path(__file__).resolve()}


def test_only_the_scenario_module_reaches_for_the_shared_folder():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("tests", "bench", "config", "organizations", "billing", "seats", "usage", "invoices")
        for path in (ROOT / folder).rglob("*.py")
        if path not in ALLOWED and SHARED_PATH.search(path.read_text())
    ]
    assert offenders == []


def test_everything_the_suite_plays_is_in_the_checkout_without_the_shared_folder(tmp_path):
    probe = (
        "import json; from tests import scenarios as s; "
        "files = [p for f in [*s.PUBLIC_FOLDERS, s.OURS] for p in s.scenario_files(f)]; "
        "print(json.dumps({'checker': s.CHECKER.is_file(), 'files': len(files), "
        "'expected': all(p.with_name(p.stem + '.expected.json').is_file() for p in files), "
        "'inside': all(p.is_relative_to(s.ROOT) for p in files), 'extras': len(s.shared_extras())}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"SEATBILL_SHARED_DIR": str(tmp_path / "no-such-folder"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(run.stdout)
    assert found == {"checker": True, "files": found["files"], "expected": True, "inside": True, "extras": 0}
    assert found["files"] >= 11  # 6 public, 5 of ours
