"""The house's layout rule, checked: each area of `ivr/` imports only the areas below it.

A newcomer finds a behaviour from the folder names; this keeps the folders honest. A new area
(package) must be placed in LAYERS, and must say in its `__init__.py` what it holds and what it
may import.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ivr"

# Lowest first. An area may import its own modules and any area in an earlier row; areas in the
# same row may not import each other. `app` is ivr/__init__.py (create_app wires every area).
LAYERS: list[tuple[str, ...]] = [
    # Settings, UK phone numbers and the metrics counters: used everywhere, import nothing else.
    ("config", "phone", "metrics"),
    ("twilio_sim", "clients"),  # the Twilio stand-in; clients for outside services
    ("store",),  # Redis: keys, call state, callback records, encryption at rest
    ("outage",),  # the disk journal and its delivery when Redis is back
    ("line",),  # the phone line: flow, engine, webhooks
    ("staff",),  # sign-in, users, CSRF, security headers, admin pages
    ("intake",),  # the callback queue: service, claims, outcomes, pages
    ("reports",),  # figures and call logs (read what the line writes)
    ("api",),  # the JSON API over intake and reports
    ("signoff", "softphone"),  # the flow's picture, script and approval; the softphone at /try
    ("privacy",),  # subject export and erasure: walks everything below
    ("ops",),  # going live: /metrics and /healthz, the Twilio number, the go-live checklist
    ("app", "cli"),  # create_app and the `ivr` command
]
RANK = {area: rank for rank, row in enumerate(LAYERS) for area in row}
BASE = {"config", "phone", "metrics"}


def area_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "app"
    return parts[1]


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        found.append((name, path))
    return found


def imports_of(path: Path, module: str) -> set[str]:
    """Every ivr module this file imports, at the top or inside a function."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if base == "ivr" or base.startswith("ivr."):
                found.add(base)
                for alias in node.names:  # `from ivr.line import voice` imports ivr.line.voice
                    sub = PACKAGE.parent.joinpath(*base.split("."), alias.name)
                    if sub.with_suffix(".py").is_file() or sub.is_dir():
                        found.add(f"{base}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ivr"))
    return found


def test_every_area_is_placed_in_the_layers():
    areas = {area_of(name) for name, _ in modules()}
    unplaced = sorted(areas - set(RANK))
    assert not unplaced, f"place these areas in LAYERS (tests/test_layout.py): {unplaced}"


@pytest.mark.parametrize("module,path", modules(), ids=lambda v: str(v))
def test_areas_import_only_what_is_below_them(module, path):
    own = area_of(module)
    wrong = []
    for target in imports_of(path, module):
        if target == "ivr":
            continue
        theirs = area_of(target)
        if theirs == own or (own in BASE and theirs in BASE) or own in ("app", "cli"):
            continue
        if RANK.get(theirs, 99) >= RANK.get(own, -1):
            wrong.append(f"{target} ({theirs})")
    assert not wrong, f"{module} ({own}) imports areas above or beside it: {wrong}"


@pytest.mark.parametrize(
    "package", sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)
)
def test_each_area_says_what_it_holds_and_may_import(package):
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert len(doc) > 40 and "May import" in doc, f"{package.name}/__init__.py needs a docstring"


def test_every_module_imports():
    for name, _ in modules():
        importlib.import_module(name)


def test_the_readme_table_names_every_area():
    """The README's "How it works" table is the newcomer's map: it must match `ls ivr/`."""
    readme = (PACKAGE.parent / "README.md").read_text()
    areas = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    missing = [area for area in areas if f"| `ivr/{area}/`" not in readme]
    assert not missing, f"README's table lacks: {missing}"
