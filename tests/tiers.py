"""``make test``: the whole suite as two pytest runs side by side, so waiting overlaps work.

The e2e tier (local stacks, browsers, bench smoke runs) spends most of its time waiting on
scaled-down timers and on stacks starting; the other tiers (unit, integration, contract, infra)
keep both cores busy. Run one after the other, the waits are dead time; run side by side, the
e2e tier's waits fill with the others' work. Every test still polls with a deadline, never a
fixed sleep, so a loaded machine makes them slower, not flaky.

The e2e run's output is kept in ``.cache/test-e2e.log`` and printed after the other's, so a CI
log reads as two whole reports. Arguments go to both runs (``-m`` given there wins for both).
Exit: non-zero if either run failed; "no tests collected" (5) counts as passed for one side when
the arguments select only the other's tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / ".cache" / "test-e2e.log"
NO_TESTS = 5


def main(args: list[str]) -> int:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    pytest = [sys.executable, "-m", "pytest"]
    with LOG.open("w") as log:
        e2e = subprocess.Popen([*pytest, "-m", "e2e", *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            rest = subprocess.call([*pytest, "-m", "not e2e", *args], cwd=ROOT)
        finally:
            e2e_code = e2e.wait()
    print(f"\n===== e2e tier (ran beside the above; {LOG.relative_to(ROOT)}) =====", flush=True)
    print(LOG.read_text(errors="replace"), flush=True)
    codes = {"unit/integration/contract/infra": rest, "e2e": e2e_code}
    if all(code == NO_TESTS for code in codes.values()):
        return NO_TESTS
    failed = {name: code for name, code in codes.items() if code not in (0, NO_TESTS)}
    for name, code in failed.items():
        print(f"make test: the {name} run failed (exit {code})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
