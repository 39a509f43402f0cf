"""The driver behind scripts/mutate: runs mutmut on one module with only that module's tests, and
reports its kill rate and survivors. The modules and their tests are in pyproject.toml under
[tool.ivr.mutate.modules]; the rest of mutmut's settings under [tool.mutmut].

    python scripts/mutate.py list              the modules, smallest first
    python scripts/mutate.py run MODULE        mutate MODULE (run from the repository root);
                                               MUTATE_ONLY="ivr.staff.csrf.x__check*" limits it
                                               to the mutants whose names match
    python scripts/mutate.py report MODULE     its kill rate, then every survivor's diff
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# mutmut's exit codes (mutmut/stats.py): 1 and 3 mean a test failed, so the mutant was killed.
STATUS = {1: "killed", 3: "killed", 0: "survived", 33: "no tests", 5: "no tests", None: "not run"}


def modules() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["tool"]["ivr"]["mutate"]["modules"]


def smallest_first() -> list[str]:
    return sorted(modules(), key=lambda m: len((ROOT / m).read_text(encoding="utf-8")))


def run(module: str) -> None:
    tests = modules()[module]
    import mutmut.configuration as configuration

    configuration._config = replace(
        configuration._load_config(),
        only_mutate=[module],
        pytest_add_cli_args_test_selection=tests,
    )
    from mutmut.__main__ import cli

    only = os.environ.get("MUTATE_ONLY", "").split()
    cli(["run", "--max-children", "1", *only])


def report(module: str) -> None:
    meta = ROOT / "mutants" / (module + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    status = {
        name: STATUS.get(code, "timeout" if code in (36, 24, -24, 152) else str(code))
        for name, code in codes.items()
    }
    counts = Counter(status.values())
    total, killed = len(status), counts["killed"] + counts["timeout"]
    rate = f"{100 * killed / total:.1f}%" if total else "n/a"
    others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in ("killed",))
    print(f"{module}: {killed} of {total} mutants killed ({rate}); {others or 'none left'}")
    for name, state in sorted(status.items()):
        # Diffs of the survivors only: one `mutmut show` each is slow, and a mutant that never
        # ran (cut off by the time bound) says nothing about the tests.
        if state not in ("killed", "timeout", "not run"):
            shown = subprocess.run(  # noqa: S603 (our own mutmut, a name it printed)
                [str(ROOT / ".venv/bin/mutmut"), "show", name],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            diff = [line for line in shown.stdout.splitlines() if line[:2] in ("- ", "+ ")]
            print(f"\n{name}: {state}")
            print("\n".join(diff))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "list"
    if command == "list":
        print("\n".join(smallest_first()))
    elif command in ("run", "report") and len(sys.argv) == 3 and sys.argv[2] in modules():
        (run if command == "run" else report)(sys.argv[2])
    else:
        sys.exit(__doc__)
