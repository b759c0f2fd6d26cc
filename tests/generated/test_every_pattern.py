"""End to end: every pattern, every option value, rendered by the installed `otpgen` into one
fresh project, then checked there exactly as a user's CI would: ruff check, ruff format
--check, mypy --strict, and the generated tests.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from otpgen._patterns import Option, Pattern, load_patterns
from otpgen._templates import templates_dir

PYPROJECT = """\
[project]
name = "shop"
version = "0.0.0"
requires-python = ">=3.11"

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF", "ASYNC", "PT", "C4", "RET"]

[tool.mypy]
strict = true
mypy_path = "src"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""


def values(option: Option) -> list[str]:
    """Every value worth rendering: each choice, both booleans, the default and the minimum."""
    if option.type == "choice":
        return list(option.choices)
    if option.type == "bool":
        return ["true", "false"]
    found = {str(option.default)}
    if option.min is not None:  # an int's or a float's: 0.001 s timeouts must pass too
        found.add(str(int(option.min) if option.type == "int" else float(option.min)))
    return sorted(found)


def instances(pattern: Pattern) -> list[dict[str, str]]:
    """Option settings covering every value of every option at least once."""
    runs: list[dict[str, str]] = [{}]
    for option in pattern.options:
        runs += [{option.key: value} for value in values(option) if value != str(option.default)]
    return runs


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh project with every pattern rendered in it, each option value at least once."""
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "the otpgen console script is not installed: run `pip install .`"
    root = tmp_path_factory.mktemp("shop")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    patterns = load_patterns(templates_dir())
    assert patterns, "no patterns found"
    for pattern in patterns.values():
        for index, settings in enumerate(instances(pattern)):
            name = f"{pattern.name.replace('-', '_')}_{index}"
            sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
            result = run([otpgen, "new", pattern.name, name, "--no-input", *sets], root)
            assert result.returncode == 0, f"otpgen new {pattern.name} {sets}: {result.stderr}"
    return root


def test_ruff_check_passes(shop: Path) -> None:
    result = run([sys.executable, "-m", "ruff", "check", "."], shop)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check_passes(shop: Path) -> None:
    result = run([sys.executable, "-m", "ruff", "format", "--check", "."], shop)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes(shop: Path) -> None:
    result = run([sys.executable, "-m", "mypy", "--strict", "src", "tests"], shop)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_tests_pass(shop: Path) -> None:
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], shop)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
