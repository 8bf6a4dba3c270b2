"""The billing scenarios, played through `manage.py simulate` exactly as the shared checker does.

../shared/scenarios/ are the product's examples; tests/scenarios/ are ours, for rules
the examples do not show (month-end anchors, next_invoice with keep, manual seats with
a cap, last owner, reverse charge, outside the EU, a weekly and a monthly member on a
yearly team under both removal policies). Scenarios 10 to 12 were worked out by hand
before the program ran them; 13 and 14 were printed by the program and every charge,
credit, document number and balance in them checked by hand against billing-rules.md.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CHECKER = SHARED / "tools" / "check_scenarios.py"
FOLDERS = [SHARED / "scenarios", SHARED / "scenarios" / "member-intervals", ROOT / "tests" / "scenarios"]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_scenarios_pass_the_shared_checker(folder, subprocess_env):
    if not CHECKER.exists():
        pytest.fail(f"{CHECKER} is missing: the shared folder must sit beside the project.")
    run = subprocess.run(
        [sys.executable, str(CHECKER), str(folder), "--cmd", f"{sys.executable} manage.py simulate"],
        cwd=ROOT,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failed" in run.stdout


def test_invalid_scenario_exits_2_with_one_line(tmp_path, subprocess_env):
    bad = tmp_path / "bad.json"
    bad.write_text('{"plan": {"interval": "fortnight"}, "start": "2026-01-01", "until": "2026-02-01"}')
    run = subprocess.run(
        [sys.executable, "manage.py", "simulate", str(bad)],
        cwd=ROOT,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "plan.interval" in run.stderr
