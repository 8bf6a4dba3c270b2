"""Where the billing scenarios are, for the tests and the benchmarks.

The suite stands alone: the product's public scenarios and their checker are vendored here
(`public/`, `check_scenarios.py`, copied from the `shared/` folder that sits beside a
development checkout; see VENDORED.md). That folder, when present, is only an extra: its
scenarios that differ from the vendored copies are played too, so a newer specification is
noticed, and nothing fails for want of it. `SEATBILL_SHARED_DIR` points elsewhere (a test sets
it to a missing folder to prove the suite needs nothing outside the checkout).
"""

import hashlib
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PUBLIC = HERE / "public"
OURS = HERE / "ours"
CHECKER = HERE / "check_scenarios.py"
SHARED = Path(os.environ.get("SEATBILL_SHARED_DIR") or ROOT.parent / "shared")

# The public scenarios, folder by folder (the checker plays one folder at a time).
PUBLIC_FOLDERS = [PUBLIC, PUBLIC / "member-intervals", PUBLIC / "units"]


def scenario_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".expected.json"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shared_extras() -> list[Path]:
    """Scenarios in the shared folder beside the checkout that are not byte for byte a vendored one
    (with the same expected output): new or changed examples. Empty when there is no such folder."""
    shared = SHARED / "scenarios"
    if not shared.is_dir():
        return []
    vendored = {
        (_digest(p), _digest(p.with_name(p.stem + ".expected.json")))
        for folder in PUBLIC_FOLDERS
        for p in scenario_files(folder)
    }
    extras = []
    for path in sorted(shared.rglob("*.json")):
        expected = path.with_name(path.stem + ".expected.json")
        if path.name.endswith(".expected.json") or not expected.exists():
            continue
        if (_digest(path), _digest(expected)) not in vendored:
            extras.append(path)
    return extras
