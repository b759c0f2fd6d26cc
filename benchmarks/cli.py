"""Whole-process wall time of the otpgen CLI, side by side with cookiecutter and copier.

`python benchmarks/cli.py [--rounds N]` times, interleaved round by round so every tool sees
the same machine load:

- `otpgen new genserver inventory` in a fresh project: the module, its test and the kernel
  (12 files), formatted — with the generation cache warm (the normal case after the first
  run on a machine) and with `OTPGEN_NO_CACHE=1` (every run formats with ruff);
- `cookiecutter --no-input` and `copier copy --defaults` rendering a template made of the
  very same 12 files (each a jinja template, file names templated), into a fresh directory;
- `otpgen init` of a service repository (skeleton, kernel, application.py, formatted),
  beside `cookiecutter --no-input` rendering the same skeleton template;
- `otpgen --help` and `otpgen --version` (the help screen from otpgen's cache, as after the
  first run on a machine).

It reports medians, quartiles and the ratios the targets are stated in. Figures are a report,
not a test: the exit status is 0 whether the targets are met or not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from otpgen._templates import templates_dir

NAME = "inventory"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed: pip install '.[bench]'")
    return found


def _fresh_project(base: Path) -> Path:
    root = Path(tempfile.mkdtemp(dir=base))
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "0"\n')
    return root


def _reference_files(otpgen: str, base: Path) -> dict[str, str]:
    """What `otpgen new genserver inventory` writes (without .otpgen/), by relative path."""
    project = _fresh_project(base)
    subprocess.run(
        [otpgen, "new", "genserver", NAME, "--no-input"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    written = {p.relative_to(project).as_posix(): p for p in sorted(project.rglob("*.py"))}
    return {
        path: p.read_text()
        for path, p in written.items()
        if not path.startswith(".otpgen/") and path != "src/shop/__init__.py"
    }


def _as_template(text: str, variable: str) -> str:
    # Each file is a jinja template: the module name is a variable, the rest raw text.
    raw = ["{% raw %}" + part + "{% endraw %}" for part in text.split(NAME)]
    return ("{{ " + variable + " }}").join(raw)


def _cookiecutter_template(files: dict[str, str], base: Path) -> Path:
    root = base / "cookiecutter-template"
    project = root / "{{cookiecutter.project}}"
    for path, text in files.items():
        target = project / path.replace(NAME, "{{cookiecutter.name}}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_as_template(text, "cookiecutter.name"))
    (root / "cookiecutter.json").write_text(f'{{"project": "shop", "name": "{NAME}"}}\n')
    return root


def _copier_template(files: dict[str, str], base: Path) -> Path:
    root = base / "copier-template"
    for path, text in files.items():
        target = root / (path.replace(NAME, "{{name}}") + ".jinja")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_as_template(text, "name"))
    (root / "copier.yml").write_text(f"name:\n  type: str\n  default: {NAME}\n")
    return root


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=21, help="timed runs per command")
    args = parser.parse_args(argv)
    otpgen, cookiecutter, copier = _tool("otpgen"), _tool("cookiecutter"), _tool("copier")
    with tempfile.TemporaryDirectory(prefix="otpgen-bench-") as tmp:
        base = Path(tmp)
        files = _reference_files(otpgen, base)
        cc_template = _cookiecutter_template(files, base)
        copier_template = _copier_template(files, base)
        warm = {**os.environ, "OTPGEN_CACHE_DIR": str(base / "cache")}
        cold = {**warm, "OTPGEN_NO_CACHE": "1"}
        # One untimed run each: warms the generation cache and the OS file cache alike.
        subprocess.run(
            [otpgen, "new", "genserver", NAME, "--no-input"],
            env=warm,
            cwd=_fresh_project(base),
            check=True,
            capture_output=True,
        )

        def otpgen_new(env: dict[str, str]) -> Callable[[], float]:
            return lambda: _timed(
                [otpgen, "new", "genserver", NAME, "--no-input"], _fresh_project(base), env
            )

        def into_fresh_dir(command: list[str]) -> Callable[[], float]:
            def run() -> float:
                out = Path(tempfile.mkdtemp(dir=base))
                return _timed(
                    [*command, str(out)] if command[0] == copier else [*command, "-o", str(out)],
                    base,
                    warm,
                )

            return run

        benches: dict[str, Callable[[], float]] = {
            "otpgen new (cache warm)": otpgen_new(warm),
            "otpgen new (no cache)": otpgen_new(cold),
            "cookiecutter --no-input": into_fresh_dir(
                [cookiecutter, "--no-input", str(cc_template)]
            ),
            "copier copy --defaults": into_fresh_dir(
                [copier, "copy", "--defaults", "--quiet", str(copier_template)]
            ),
            "otpgen init": lambda: _timed(
                [otpgen, "init", str(Path(tempfile.mkdtemp(dir=base)) / "svc"), "--no-input"],
                base,
                warm,
            ),
            "cookiecutter (service)": into_fresh_dir(
                [cookiecutter, "--no-input", str(templates_dir() / "service")]
            ),
            "otpgen --help": lambda: _timed([otpgen, "--help"], base, warm),
            "otpgen --version": lambda: _timed([otpgen, "--version"], base, warm),
            "python -c pass (floor)": lambda: _timed([sys.executable, "-c", "pass"], base, warm),
        }
        for bench in benches.values():
            bench()
        samples: dict[str, list[float]] = {name: [] for name in benches}
        for _ in range(args.rounds):
            for name, bench in benches.items():
                samples[name].append(bench())

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{len(files)} files per render; {args.rounds} rounds; medians (quartiles), ms")
    for name, values in samples.items():
        q1, _, q3 = statistics.quantiles(values, n=4)
        print(f"  {name:26} {medians[name] * 1e3:7.1f}  ({q1 * 1e3:.1f} to {q3 * 1e3:.1f})")
    new = medians["otpgen new (cache warm)"]
    print("targets:")
    checks = [
        ("otpgen new <= 100 ms", new * 1e3, new <= 0.100),
        (
            "cookiecutter / otpgen new >= 2.5x",
            medians["cookiecutter --no-input"] / new,
            medians["cookiecutter --no-input"] / new >= 2.5,
        ),
        (
            "copier / otpgen new >= 6x",
            medians["copier copy --defaults"] / new,
            medians["copier copy --defaults"] / new >= 6,
        ),
        (
            "otpgen --help <= 80 ms",
            medians["otpgen --help"] * 1e3,
            medians["otpgen --help"] <= 0.080,
        ),
        (
            "otpgen --help / python -c pass <= 5x",
            medians["otpgen --help"] / medians["python -c pass (floor)"],
            medians["otpgen --help"] <= 5 * medians["python -c pass (floor)"],
        ),
        ("otpgen init <= 300 ms", medians["otpgen init"] * 1e3, medians["otpgen init"] <= 0.3),
        (
            "cookiecutter (service) / otpgen init >= 1x",
            medians["cookiecutter (service)"] / medians["otpgen init"],
            medians["cookiecutter (service)"] >= medians["otpgen init"],
        ),
    ]
    for label, value, met in checks:
        print(f"  {label:36} {value:7.2f}  {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
