"""Whole-process wall time of the otpgen CLI, side by side with cookiecutter and copier.

`python benchmarks/cli.py [--rounds N]` times, interleaved round by round so every tool sees
the same machine load, and with a NEW module name in every sample (a user never renders the
same name twice, so the render and format caches miss for the module and its test):

- `otpgen new genserver NAME` in an existing project, one that already holds the kernel
  and a module from an earlier `new` (what every `new` after the first is): it writes the
  module and its test, formatted, and records them under `.otpgen/`. Beside it,
  `cookiecutter --no-input` and `copier copy --defaults` render a template made of those
  very 2 files into a copy of the same project;
- the same with `OTPGEN_NO_CACHE=1` (the kernel's formatted renders not cached either);
- `otpgen new genserver NAME` as the first module of a fresh project: the module, its test
  and the kernel (12 files), beside the peers rendering the same 12 files into a fresh
  directory;
- `otpgen init` of a service repository (skeleton, kernel, application.py, formatted),
  beside `cookiecutter --no-input` rendering the same skeleton template;
- `otpgen --help`, beside `python -c pass` (the interpreter's start-up alone).

otpgen's cache directory persists through the run as a user's does between runs (it is
warmed once, untimed): the kernel's formatted renders are found there, a new name's are not.
The peers' templates are the files otpgen writes, read back, as jinja templates: each file's
text raw, the module name and its class name as variables (every sample name has the same
length, so ruff lays the files out alike). cookiecutter renders from a template directory;
copier from a git repository (tagged v1), as a template is published, which copier clones on
every run. Before timing, the script checks that both peers write files byte-identical to
otpgen's for a name none of them has rendered yet.

It reports medians, quartiles and the ratios the targets are stated in. Figures are a report,
not a test: the exit status is 0 whether the targets are met or not.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import otpgen
from otpgen._names import class_name
from otpgen._templates import templates_dir

PACKAGE = "shop"
REFERENCE = "stock0000"
"""The name the templates are read back from; sample names have its length (see `names`)."""
FIRST = "ledger"
"""The module the existing project already holds."""

Files = dict[str, str]


def names() -> Iterator[str]:
    """stock0001, stock0002, ...: new names, each as long as REFERENCE."""
    for n in itertools.count(1):
        yield f"stock{n:04d}"


def _uncompiled() -> list[str]:
    """otpgen's modules that have no bytecode beside them, which every run compiles afresh.

    pip compiles a wheel it installs; an editable install under PYTHONDONTWRITEBYTECODE=1
    never gets compiled, and its figures would carry some 15 ms no user pays.
    """
    package = Path(otpgen.__file__).parent
    return [
        p.name
        for p in sorted(package.glob("*.py"))
        if not Path(importlib.util.cache_from_source(str(p))).is_file()
    ]


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed: pip install cookiecutter copier")
    return found


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        raise SystemExit(
            f"`{' '.join(command)}` exited {done.returncode}: {lines[-1] if lines else ''}"
        )


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    _run(command, cwd, env)
    return time.perf_counter() - started


def _bare_project(root: Path) -> Path:
    (root / "src" / PACKAGE).mkdir(parents=True)
    (root / "src" / PACKAGE / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{PACKAGE}"\nversion = "0"\n')
    return root


def _python_files(root: Path, before: set[str]) -> Files:
    """The .py files under `root` (outside .otpgen/) that were not in `before`."""
    return {
        rel: (root / rel).read_text()
        for rel in sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
        if rel not in before and not rel.startswith(".otpgen/")
    }


def _as_template(text: str, name: str, cls: str, prefix: str) -> str:
    """`text` as a jinja template: raw, but for the module name and its class name."""
    name_var, cls_var = "{{ " + prefix + "name }}", "{{ " + prefix + "cls }}"
    return name_var.join(
        cls_var.join("{% raw %}" + raw + "{% endraw %}" for raw in piece.split(cls))
        for piece in text.split(name)
    )


def _template_files(files: Files, name: str, prefix: str) -> Files:
    """Template files for `files`: the variables are `{prefix}name` and `{prefix}cls`."""
    cls = class_name(name)
    return {
        rel.replace(name, "{{ " + prefix + "name }}"): _as_template(text, name, cls, prefix)
        for rel, text in files.items()
    }


def _write(root: Path, files: Files) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _cookiecutter_template(files: Files, root: Path) -> Path:
    """A cookiecutter template rendering `files` into `{{cookiecutter.project}}/`."""
    inner = _template_files(files, REFERENCE, "cookiecutter.")
    _write(root, {"{{cookiecutter.project}}/" + rel: text for rel, text in inner.items()})
    context = f'{{"project": "project", "name": "{REFERENCE}", "cls": "{class_name(REFERENCE)}"}}'
    (root / "cookiecutter.json").write_text(context + "\n")
    return root


def _copier_template(files: Files, root: Path, env: dict[str, str]) -> Path:
    """A copier template rendering `files`, published as a git repository tagged v1."""
    inner = _template_files(files, REFERENCE, "")
    _write(root, {rel + ".jinja": text for rel, text in inner.items()})
    (root / "copier.yml").write_text(
        f"name:\n  type: str\n  default: {REFERENCE}\ncls:\n  type: str\n"
        f"  default: {class_name(REFERENCE)}\n"
    )
    for git in (
        ["git", "init", "--quiet", "--initial-branch=main"],
        ["git", "add", "--all"],
        ["git", "commit", "--quiet", "--no-verify", "--message", "v1"],
        ["git", "tag", "v1"],
    ):
        _run(git, root, env)
    return root


class Bench:
    """The commands and the directories they run in; every sample renders a new name."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.warm = env
        self.cold = {**env, "OTPGEN_NO_CACHE": "1"}
        self.otpgen = _tool("otpgen")
        self.cookiecutter = _tool("cookiecutter")
        self.copier = _tool("copier")
        self.names = names()
        self.existing = base / "existing"  # the project every "existing project" sample copies
        _bare_project(self.existing)
        _run([self.otpgen, "new", "genserver", FIRST, "--no-input"], self.existing, env)
        before = {p.relative_to(self.existing).as_posix() for p in self.existing.rglob("*.py")}
        scratch = self.copy_existing()
        _run([self.otpgen, "new", "genserver", REFERENCE, "--no-input"], scratch, env)
        self.added = _python_files(scratch, before)  # the module and its test
        fresh = _bare_project(self.scratch_dir())
        _run([self.otpgen, "new", "genserver", REFERENCE, "--no-input"], fresh, env)
        self.first = _python_files(fresh, {f"src/{PACKAGE}/__init__.py"})  # 12 files
        self.cc_added = _cookiecutter_template(self.added, base / "cc-added")
        self.cc_first = _cookiecutter_template(self.first, base / "cc-first")
        self.copier_added = _copier_template(self.added, base / "copier-added", env)
        self.copier_first = _copier_template(self.first, base / "copier-first", env)

    def scratch_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.base))

    def copy_existing(self) -> Path:
        target = self.scratch_dir() / "project"
        shutil.copytree(self.existing, target)
        return target

    # Each returns (the command, the directory to run it in, the project it writes to).

    def otpgen_new(self, project: Path, name: str) -> tuple[list[str], Path, Path]:
        return [self.otpgen, "new", "genserver", name, "--no-input"], project, project

    def cookiecutter_into(
        self, template: Path, project: Path, name: str
    ) -> tuple[list[str], Path, Path]:
        # Rendered into the project directory itself: its parent is the output directory.
        context = ["--overwrite-if-exists", f"project={project.name}", f"name={name}"]
        command = [self.cookiecutter, "--no-input", str(template), "-o", str(project.parent)]
        return [*command, *context, f"cls={class_name(name)}"], self.base, project

    def copier_into(self, template: Path, project: Path, name: str) -> tuple[list[str], Path, Path]:
        data = ["--data", f"name={name}", "--data", f"cls={class_name(name)}"]
        command = [self.copier, "copy", "--defaults", "--quiet", *data, str(template)]
        return [*command, str(project)], self.base, project

    def fresh(self) -> Path:
        return _bare_project(self.scratch_dir() / "project")

    def check_equivalent(self) -> None:
        """Each peer writes byte-identical files to otpgen's, for a name new to all of them."""
        for label, make, template, expected, copy in (
            ("existing project", self.cookiecutter_into, self.cc_added, self.added, True),
            ("existing project", self.copier_into, self.copier_added, self.added, True),
            ("fresh project", self.cookiecutter_into, self.cc_first, self.first, False),
            ("fresh project", self.copier_into, self.copier_first, self.first, False),
        ):
            name = next(self.names)
            ours = self.copy_existing() if copy else self.fresh()
            theirs = self.copy_existing() if copy else self.fresh()
            before = {p.relative_to(ours).as_posix() for p in ours.rglob("*.py")}
            _run(*self.otpgen_new(ours, name)[:2], self.warm)
            command, cwd, _ = make(template, theirs, name)
            _run(command, cwd, self.warm)
            got, want = _python_files(theirs, before), _python_files(ours, before)
            if len(want) != len(expected) or got != want:
                differ = sorted(set(got) ^ set(want) | {p for p in got if got[p] != want.get(p)})
                raise SystemExit(
                    f"{Path(command[0]).name} ({label}) does not write what otpgen writes: "
                    f"{len(want)} files expected, {len(differ)} differ, e.g. {differ[:1]}"
                )

    def cases(self) -> dict[str, Callable[[], float]]:
        def new_name(
            command: Callable[[Path, str], tuple[list[str], Path, Path]],
            project: Callable[[], Path],
            env: dict[str, str] | None = None,
        ) -> Callable[[], float]:
            def sample() -> float:
                cmd, cwd, _ = command(project(), next(self.names))
                return _timed(cmd, cwd, env or self.warm)

            return sample

        def peer(
            make: Callable[[Path, Path, str], tuple[list[str], Path, Path]], template: Path
        ) -> Callable[[Path, str], tuple[list[str], Path, Path]]:
            return lambda project, name: make(template, project, name)

        def init() -> float:
            target = self.scratch_dir() / "svc"
            return _timed([self.otpgen, "init", str(target), "--no-input"], self.base, self.warm)

        service = templates_dir() / "service"
        return {
            NEW: new_name(self.otpgen_new, self.copy_existing),
            NEW_NO_CACHE: new_name(self.otpgen_new, self.copy_existing, self.cold),
            CC: new_name(peer(self.cookiecutter_into, self.cc_added), self.copy_existing),
            COPIER: new_name(peer(self.copier_into, self.copier_added), self.copy_existing),
            FIRST_NEW: new_name(self.otpgen_new, self.fresh),
            FIRST_CC: new_name(peer(self.cookiecutter_into, self.cc_first), self.fresh),
            FIRST_COPIER: new_name(peer(self.copier_into, self.copier_first), self.fresh),
            INIT: init,
            CC_SERVICE: lambda: _timed(
                [self.cookiecutter, "--no-input", str(service), "-o", str(self.scratch_dir())],
                self.base,
                self.warm,
            ),
            HELP: lambda: _timed([self.otpgen, "--help"], self.base, self.warm),
            VERSION: lambda: _timed([self.otpgen, "--version"], self.base, self.warm),
            PASS: lambda: _timed([sys.executable, "-c", "pass"], self.base, self.warm),
        }


NEW = "otpgen new (existing project)"
NEW_NO_CACHE = "otpgen new (existing, no cache)"
CC = "cookiecutter (same 2 files)"
COPIER = "copier, git template (same 2)"
FIRST_NEW = "otpgen new (fresh project)"
FIRST_CC = "cookiecutter (same 12 files)"
FIRST_COPIER = "copier, git template (same 12)"
INIT = "otpgen init"
CC_SERVICE = "cookiecutter (service skeleton)"
HELP = "otpgen --help"
VERSION = "otpgen --version"
PASS = "python -c pass"

TARGETS: list[tuple[str, str, str, str, float]] = [
    # (label, numerator, denominator, op, bound)
    ("cookiecutter / otpgen new", CC, NEW, ">=", 2.5),
    ("copier (git) / otpgen new", COPIER, NEW, ">=", 6.0),
    ("otpgen --help / python -c pass", HELP, PASS, "<=", 5.0),
    ("otpgen --version / python -c pass", VERSION, PASS, "<=", 5.0),
    ("cookiecutter / otpgen new, fresh project", FIRST_CC, FIRST_NEW, ">=", 2.5),
    ("copier (git) / otpgen new, fresh project", FIRST_COPIER, FIRST_NEW, ">=", 6.0),
    ("cookiecutter (service) / otpgen init", CC_SERVICE, INIT, ">=", 1.0),
]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="timed runs per command")
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the medians and samples here"
    )
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")
    started, load_before = time.perf_counter(), os.getloadavg()
    uncompiled = _uncompiled()
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-cli-") as tmp:
        base = Path(tmp)
        config = base / "cookiecutter.yaml"
        config.write_text(
            f"cookiecutters_dir: {base / 'cookiecutters'}\nreplay_dir: {base / 'replay'}\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "OTPGEN_NO_CACHE"}
        env |= {
            "OTPGEN_CACHE_DIR": str(base / "otpgen-cache"),
            "COOKIECUTTER_CONFIG": str(config),
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        }
        bench = Bench(base, env)
        bench.check_equivalent()  # also the untimed warm-up of every tool and the OS caches
        cases = bench.cases()
        for case in cases.values():
            case()
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, case in cases.items():
                samples[name].append(case())

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"otpgen CLI: Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        + ", ".join(f"{d} {_version(d)}" for d in ("otpgen", "cookiecutter", "copier", "typer"))
    )
    print(
        f"a new module name every sample; {len(bench.added)} files for `new` in an existing "
        f"project, {len(bench.first)} in a fresh one; peers' output checked byte-identical"
    )
    print(f"{args.rounds} rounds, interleaved; median (quartiles), ms")
    if uncompiled:
        print(
            f"WARNING: {len(uncompiled)} of otpgen's modules have no bytecode (editable install "
            "with PYTHONDONTWRITEBYTECODE?), so every run compiles them: install it with "
            "`pip install .` in a fresh venv as docs/benchmarks.md says"
        )
    for name, values in samples.items():
        q1, _, q3 = statistics.quantiles(values, n=4)
        print(f"  {name:32} {medians[name] * 1e3:7.1f}  ({q1 * 1e3:.1f} to {q3 * 1e3:.1f})")
    print("targets (ratios of medians):")
    for label, top, bottom, op, bound in TARGETS:
        value = medians[top] / medians[bottom]
        met = value >= bound if op == ">=" else value <= bound
        print(f"  {label:42} {value:6.2f}x  {op} {bound:g}  {'met' if met else 'MISSED'}")
    load_after = os.getloadavg()
    if args.json is not None:  # read by benchmarks/plots.py
        document = {
            "date": time.strftime("%Y-%m-%d"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "versions": {d: _version(d) for d in ("otpgen", "cookiecutter", "copier", "typer")},
            "rounds": args.rounds,
            "load_average": {"before": list(load_before), "after": list(load_after)},
            "medians_ms": {name: value * 1e3 for name, value in medians.items()},
            "samples_ms": {name: [v * 1e3 for v in values] for name, values in samples.items()},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}")
    print(
        f"{time.perf_counter() - started:.0f} s; load average (1, 5, 15 min) before "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; after "
        f"{', '.join(f'{x:.2f}' for x in load_after)} (this run's own processes included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
