"""The billing scenarios, played through `manage.py simulate` exactly as the shared checker does.

tests/scenarios/public/ are the product's examples (vendored, see tests/scenarios/VENDORED.md);
tests/scenarios/ours/ are ours, for rules the examples do not show (month-end anchors,
next_invoice with keep, manual seats with a cap, last owner, reverse charge, outside the EU, a
weekly and a monthly member on a yearly team under both removal policies, a next_invoice charge
waiting past a renewal that bills nothing of its own). Scenarios 10 to 12 and 15 were worked
out by hand before the program ran them; 13 and 14 were printed by the program and
every charge, credit, document number and balance in them checked by hand against
billing-rules.md. When the shared folder sits beside the checkout, its scenarios that differ
from the vendored ones are played too.
"""

import shutil
import subprocess
import sys

import pytest

from tests.scenarios import CHECKER, OURS, PUBLIC_FOLDERS, ROOT, shared_extras

# Folders whose scenarios the engine does not play yet, each with its reason: a strict xfail,
# so its first pass fails and asks to drop it. Empty: every public scenario passes.
NOT_YET: dict = {}


def _check(folder, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECKER), str(folder), "--cmd", f"{sys.executable} manage.py simulate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param(folder, marks=pytest.mark.xfail(strict=True, reason=NOT_YET[folder]))
        if folder in NOT_YET
        else folder
        for folder in [*PUBLIC_FOLDERS, OURS]
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_scenarios_pass_the_checker(folder, subprocess_env):
    run = _check(folder, subprocess_env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failed" in run.stdout


def test_shared_scenarios_that_differ_from_the_vendored_ones_pass_too(tmp_path, subprocess_env):
    """The shared folder beside a development checkout may hold newer examples than the copy here."""
    extras = [p for p in shared_extras() if not any(p.parent.name == f.name for f in NOT_YET)]
    if not extras:
        pytest.skip("no shared folder beside the checkout, or it holds nothing the vendored copy lacks")
    for path in extras:
        shutil.copy(path, tmp_path / path.name)
        shutil.copy(path.with_name(path.stem + ".expected.json"), tmp_path)
    run = _check(tmp_path, subprocess_env)
    assert run.returncode == 0, run.stdout + run.stderr


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
