"""Wiring generated application.py variants: only inserted lines differ, and ruff (the
service's configuration and its defaults) accepts whatever it accepted before.

Each example is a batch of files checked by a handful of ruff processes over one directory.
"""

import ast
import difflib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ruff.__main__ import find_ruff_bin

from otpgen._wire import Wiring, wire

RUFF = find_ruff_bin()
SERVICE = """\
[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF", "ASYNC", "PT", "C4", "RET"]
"""
MODES = (("service",), ("isolated", "--isolated"))


@dataclass(frozen=True)
class Import:
    text: str
    names: tuple[str, ...]  # what the file uses, so that no import is unused


IMPORTS = [
    Import("from __future__ import annotations", ()),
    Import("import asyncio", ("asyncio",)),
    Import("import logging", ("logging",)),
    Import("import json as _json", ("_json",)),
    Import("from dataclasses import dataclass", ("dataclass",)),
    Import("from functools import partial, reduce", ("partial", "reduce")),
    Import("import httpx", ("httpx",)),
    Import("from pydantic import BaseModel", ("BaseModel",)),
    Import("# the web\nfrom yarl import URL", ("URL",)),
    Import("from shop import otp", ("otp",)),
    Import("from shop import metrics  # registers collectors", ("metrics",)),
    Import("from shop import CONSTANT_X, Klass, var", ("CONSTANT_X", "Klass", "var")),
    Import("from shop import tasks as task_mod", ("task_mod",)),
    Import("from shop import alpha, beta  # the first two", ("alpha", "beta")),
    Import(
        "from shop import gamma_service, delta_service, epsilon_service, zeta_service",
        ("gamma_service", "delta_service", "epsilon_service", "zeta_service"),
    ),
    Import("from shop import (\n    Kappa,\n    lambda_,\n)", ("Kappa", "lambda_")),
    Import("from shop.cache import Cache", ("Cache",)),
    Import("import shop.config", ("shop.config",)),
    Import("import shop.events as ev", ("ev",)),
    Import("from shop.db import (\n    Pool,\n    connect,  # lazily\n)", ("Pool", "connect")),
    Import("from shop.mod10 import TEN", ("TEN",)),
    Import("from shop.mod9 import NINE", ("NINE",)),
    Import("from shop.Upper import Up", ("Up",)),
    Import("# last of ours\nfrom shop.zed import zed", ("zed",)),
    Import("from . import helpers", ("helpers",)),
    Import("from .local import thing", ("thing",)),
]

LONG = "a_rather_long_module_name_for_wrapping"
WIRINGS = [
    Wiring(("from shop import jobs",), "jobs.child_spec()"),
    Wiring(("from shop.queue_a import QueueA",), 'QueueA.child_spec(name="queue_a")'),
    Wiring(("from shop.cache import CacheSweeper",), "CacheSweeper.child_spec()"),
    Wiring(("from shop.db import Zpool",), "Zpool.child_spec()"),
    Wiring(("from shop.Upper import Down",), 'Down.child_spec(name="down")'),
    Wiring(("from shop.mod10 import Ten",), "Ten.child_spec()"),
    Wiring(("from shop import otp",), "otp.child_spec()"),
    Wiring(("from shop import AGENT",), "AGENT.child_spec()"),
    Wiring(
        (f"from shop.{LONG} import ARatherLongClassNameForWrappingTests",),
        f'ARatherLongClassNameForWrappingTests.child_spec(name="{LONG}", restart="transient")',
    ),
]

ELEMENTS = ['_spec("a")', '_spec("b", restart="transient")', "_spec(name='c')"]


@st.composite
def lists(draw: st.DrawFn) -> str:
    """The list literal children() returns, in one of the layouts people write."""
    items = draw(st.lists(st.sampled_from(ELEMENTS), max_size=3, unique=True))
    after = draw(st.sampled_from(["", "  # the end"]))
    if draw(st.booleans()) and not (items and after and draw(st.booleans())):
        return f"[{', '.join(items)}]{after}"
    rows = []
    for item in items:
        if draw(st.booleans()):
            rows.append("        # about the next one")
        rows.append(f"        {item},{draw(st.sampled_from(['', '  # mine']))}")
    if draw(st.booleans()):
        rows.append("        # dangling")
    if items and rows[-1].endswith(",") and draw(st.booleans()):
        rows[-1] = rows[-1][:-1]  # no trailing comma
    if items and not rows[-1].lstrip().startswith("#") and draw(st.booleans()):
        rows[-1] = rows[-1].removesuffix("  # mine")
        return "[\n" + "\n".join(rows) + f"]{after}"  # `]` on the last element's line
    return "[\n" + "\n".join([*rows, ""]) + f"    ]{after}"


@st.composite
def applications(draw: st.DrawFn) -> str:
    chosen = draw(st.lists(st.sampled_from(IMPORTS), unique=True, max_size=8))
    gaps = [draw(st.sampled_from(["\n", "\n\n"])) for _ in chosen]
    names = [name for imported in chosen for name in imported.names]
    head = draw(st.sampled_from(['"""The application."""\n\n', "# Copyright\n", ""]))
    block = "".join(f"{imported.text}{gap}" for imported, gap in zip(chosen, gaps, strict=True))
    used = f"_USED = ({''.join(f'{n}, ' for n in names)})\n" if names else ""
    text = (
        f"{head}{block}\n{used}\n\n"
        'def _spec(name: str, restart: str = "permanent") -> object:\n'
        "    return (name, restart)\n\n\n"
        "def children() -> list[object]:\n"
        '    """The children."""\n'
        f"    return {draw(lists())}\n"
    )
    return text.replace("\n", "\r\n") if draw(st.integers(0, 9)) == 0 else text


def changed(before: str, after: str) -> set[int]:
    """The 0-based lines of `before` that `after` removes or modifies (difflib)."""
    old, new = before.splitlines(), after.splitlines()
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    return {
        i for tag, i1, i2, _, _ in opcodes if tag in ("replace", "delete") for i in range(i1, i2)
    }


def diff(before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True)))


def opened(before: str, wirings: list[Wiring], tidy: bool) -> set[int]:
    """The lines wiring may change: a one-line children list, a one-line `from` import of a
    wired module, the list's last element (to add its comma); in an untidy file, the line
    of `]` when the last element shares it."""
    tree = ast.parse(before)
    modules = {ast.parse(line).body[0].module for w in wirings for line in w.imports}  # type: ignore[attr-defined]
    lines = set()
    for node in tree.body:
        one_line_import = isinstance(node, ast.ImportFrom) and node.lineno == node.end_lineno
        if one_line_import and node.module in modules and not node.level:  # type: ignore[union-attr]
            lines.add(node.lineno - 1)
        if isinstance(node, ast.FunctionDef) and node.name == "children":
            listed = node.body[-1].value  # type: ignore[attr-defined]
            if listed.lineno == listed.end_lineno or not tidy:
                lines.add(listed.end_lineno - 1)
            if listed.elts:  # the comma after it, if it had none
                lines.add(listed.elts[-1].end_lineno - 1)
    return lines


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUFF, *args, "--no-cache", "src"], cwd=root, capture_output=True, text=True, check=False
    )


def verdicts(root: Path, mode: tuple[str, ...]) -> dict[str, list[str]]:
    """What fails `ruff check` or `ruff format --check` in `mode`, by file of src/shop."""
    failing: dict[str, list[str]] = {}
    checked = run(root, "check", *mode[1:], "--output-format", "json", "--exit-zero")
    for diagnostic in json.loads(checked.stdout):
        failing.setdefault(Path(diagnostic["filename"]).name, []).append(diagnostic["code"])
    formatted = run(root, "format", *mode[1:], "--check")
    assert formatted.returncode in (0, 1), formatted.stderr
    for line in formatted.stdout.splitlines():
        if line.startswith("Would reformat: "):
            name = Path(line.removeprefix("Would reformat: ")).name
            failing.setdefault(name, []).append("format")
    return failing


def project(root: Path, files: dict[str, str]) -> Path:
    package = root / "src" / "shop"
    package.mkdir(parents=True, exist_ok=True)
    for old in package.glob("*.py"):
        old.unlink()
    (package / "__init__.py").write_text('"""The shop."""\n')
    (root / "pyproject.toml").write_text(SERVICE)
    for name, text in files.items():
        (package / name).write_bytes(text.encode())
    return package


def wire_all(text: str, wirings: list[Wiring]) -> str:
    for wiring in wirings:
        text = wire(text, wiring)
    return text


BATCH = 10


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a batch shrinks slowly; the message says it all
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(
        st.tuples(applications(), st.lists(st.sampled_from(WIRINGS), min_size=1, max_size=3)),
        min_size=BATCH,
        max_size=BATCH,
    )
)
def test_wiring_inserts_lines_only_and_keeps_ruff_content(
    tmp_path_factory: pytest.TempPathFactory, batch: list[tuple[str, list[Wiring]]]
) -> None:
    root = tmp_path_factory.mktemp("wire")
    # the raw variants, then the same made tidy by ruff (sorted imports, formatted)
    package = project(root, {f"in_{k}.py": text for k, (text, _) in enumerate(batch)})
    run(root, "check", "--select", "I", "--fix", "--exit-zero")
    run(root, "format")
    tidy = [(package / f"in_{k}.py").read_bytes().decode() for k in range(len(batch))]

    outputs = {}
    for k, ((raw, wirings), before) in enumerate(zip(batch, tidy, strict=True)):
        for text, is_tidy in ((raw, False), (before, True)):
            after = wire_all(text, wirings)
            assert changed(text, after) <= opened(text, wirings, is_tidy), diff(text, after)
            assert wire_all(after, wirings) == after  # wiring twice adds nothing twice
        outputs[f"in_{k}.py"] = before
        outputs[f"out_{k}.py"] = wire_all(before, wirings)

    project(root, outputs)
    for mode in MODES:
        failing = verdicts(root, mode)
        assert any(f"in_{k}.py" not in failing for k in range(len(batch))), failing  # not vacuous
        for k in range(len(batch)):
            if f"in_{k}.py" not in failing:
                assert f"out_{k}.py" not in failing, (
                    mode[0],
                    failing[f"out_{k}.py"],
                    outputs[f"in_{k}.py"],
                    outputs[f"out_{k}.py"],
                )
