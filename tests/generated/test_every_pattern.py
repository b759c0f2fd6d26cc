"""End to end: every pattern, every option value, rendered by the installed `otpgen` into
fresh projects, then checked there exactly as a user's CI would.

otpgen formats what it renders with the project's own ruff configuration, so the renders
are made, and linted (`ruff check`, `ruff format --check`), under three configurations:

- `no-ruff-config`: a pyproject.toml without `[tool.ruff]`, so ruff's defaults (those of the
  installed ruff, whatever they are by then);
- `line-length-88`: the service template's settings with ruff's default line length, 88;
- `service`: a project made by `otpgen init`, so the service template's own settings.

Each pattern is also rendered once under the longest name otpgen accepts, since its class
name appears in docstrings and comments.

mypy --strict and the generated tests run once, in the `service` project: how the code is
wrapped does not change what it does (and each run costs seconds).
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from otpgen._names import MAX_LENGTH
from otpgen._patterns import Option, Pattern, load_patterns
from otpgen._templates import templates_dir

NO_RUFF_CONFIG = """\
[project]
name = "shop"
version = "0.0.0"
requires-python = ">=3.11"
"""

CONFIGS = ("no-ruff-config", "line-length-88", "service")


# Valid values that make long lines: the longest host name the web pattern accepts (63
# characters) and an IPv6 address, quoted in its docstring.
LONG_STRINGS = {
    "host": ["ip-10-0-0-12.eu-west-1.compute.internal", "a" * 30 + "." + "b" * 32, "fe80::1"],
}
# A float whose shortest repr is 21 characters, as long as any within the options' bounds
# (floats from 0.001 to 1e16 print without an exponent), for every float option.
LONG_FLOAT = 0.0010000000000000002


def values(option: Option) -> list[str]:
    """Every value worth rendering: each choice, both booleans, the default, the minimum,
    the maximum, and values that make long lines (long host names, long float reprs)."""
    if option.type == "choice":
        return list(option.choices)
    if option.type == "bool":
        return ["true", "false"]
    if option.type == "str":
        return sorted({str(option.default), *LONG_STRINGS.get(option.key, [])})
    found = {str(option.default)}
    number = int if option.type == "int" else float
    for bound in (option.min, option.max):
        if bound is not None:  # 0.001 s timeouts and a week-long ttl must pass too
            found.add(str(number(bound)))
    if option.type == "float" and (option.min or 0) <= LONG_FLOAT <= (option.max or LONG_FLOAT):
        found.add(repr(LONG_FLOAT))
    return sorted(found)


# Values that broke a backend other than the default, rendered with it: a Redis cache
# whose ttl is a millisecond, a Redis token bucket and Postgres jobs at their longest.
WITH_BACKENDS = {
    "cache": [
        {"backend": "redis", "ttl": "0.001"},
        {"backend": "redis", "sweeper": "false", "ttl": "0.001"},
    ],
    "rate-limiter": [
        {"backend": "redis", "algorithm": "token-bucket", "period": "31536000"},
        {"backend": "redis", "algorithm": "sliding-window", "limit": "1000000"},
    ],
    "task": [{"backend": "postgres", "timeout": "86400"}],
}


def instances(pattern: Pattern) -> list[dict[str, str]]:
    """Option settings covering every value of every option at least once."""
    runs: list[dict[str, str]] = [{}]
    for option in pattern.options:
        for value in values(option):
            if value != str(option.default):
                runs.append(checked(pattern, {option.key: value}))
    return runs + [checked(pattern, dict(s)) for s in WITH_BACKENDS.get(pattern.name, [])]


def checked(pattern: Pattern, settings: dict[str, str]) -> dict[str, str]:
    """`settings`, with the other option of each `<=` or `>=` check they break set to the
    same value (min_size=10000 comes with max_size=10000)."""
    for key, value in list(settings.items()):
        for check in pattern.checks_of(key):
            chosen = pattern.parse(settings)
            if not check.holds({o.key: chosen.get(o.key, o.default) for o in pattern.options}):
                assert check.op in ("<=", ">="), f"cannot satisfy {check.rule} with {settings}"
                settings[check.right if check.left == key else check.left] = value
    pattern.resolve(settings)  # every other check holds too
    return settings


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def otpgen_exe() -> str:
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "the otpgen console script is not installed: run `pip install .`"
    return otpgen


def service_project(base: Path) -> Path:
    """`otpgen init shop`: a service with the template's own pyproject.toml (package shop)."""
    result = run([otpgen_exe(), "init", "shop", "--no-input"], base)
    assert result.returncode == 0, result.stderr
    return base / "shop"


def plain_project(base: Path, pyproject: str) -> Path:
    root = base / "shop"
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(pyproject)
    return root


def make_project(config: str, base: Path) -> Path:
    """A project named shop, package shop, whose ruff configuration is `config`."""
    if config == "service":
        return service_project(base)
    if config == "no-ruff-config":
        return plain_project(base, NO_RUFF_CONFIG)
    (base / "template").mkdir()
    service = (service_project(base / "template") / "pyproject.toml").read_text()
    assert service.count("\nline-length = 100\n") == 1, "the service template's ruff changed"
    return plain_project(base, service.replace("\nline-length = 100\n", "\nline-length = 88\n"))


def longest_name(pattern: Pattern) -> str:
    """A module name as long as otpgen allows, for the lines that hold the class name."""
    return f"{pattern.name.replace('-', '_')}_{'x' * MAX_LENGTH}"[:MAX_LENGTH]


def render_every_pattern(root: Path) -> None:
    """`otpgen new` every pattern in `root`, each option value at least once, and once
    more with the longest name."""
    patterns = load_patterns(templates_dir())
    assert patterns, "no patterns found"
    for pattern in patterns.values():
        named = [
            (f"{pattern.name.replace('-', '_')}_{index}", settings)
            for index, settings in enumerate(instances(pattern))
        ]
        for name, settings in [*named, (longest_name(pattern), {})]:
            sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
            command = [otpgen_exe(), "new", pattern.name, name, "--no-input", "--no-wire", *sets]
            result = run(command, root)
            assert result.returncode == 0, f"otpgen new {pattern.name} {sets}: {result.stderr}"


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The project of a configuration, with every pattern rendered in it (made once)."""
    made: dict[str, Path] = {}

    def shop(config: str) -> Path:
        if config not in made:
            root = make_project(config, tmp_path_factory.mktemp(config))
            render_every_pattern(root)
            made[config] = root
        return made[config]

    return shop


KERNEL = "src/shop/otp"


@pytest.mark.parametrize("config", CONFIGS)
def test_ruff_check_passes(shops: Callable[[str], Path], config: str) -> None:
    command = [sys.executable, "-m", "ruff", "check", "--extend-exclude", KERNEL, "."]
    result = run(command, shops(config))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", CONFIGS)
def test_ruff_check_passes_on_the_kernel(shops: Callable[[str], Path], config: str) -> None:
    result = run([sys.executable, "-m", "ruff", "check", KERNEL], shops(config))
    assert result.returncode == 0, result.stdout + result.stderr
    found = formatter_parentheses(shops(config), KERNEL)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("config", CONFIGS)
def test_ruff_format_check_passes(shops: Callable[[str], Path], config: str) -> None:
    result = run([sys.executable, "-m", "ruff", "format", "--check", "."], shops(config))
    assert result.returncode == 0, result.stdout + result.stderr


def formatter_parentheses(root: Path, under: str = ".") -> list[str]:
    """Values ruff format put in parentheses only to hold their trailing comment, such as
    `x = (\\n    False  # why\\n)`: the comment belongs on a line of its own. The files
    under `under`, the kernel's only if asked for."""
    found = []
    for path in sorted((root / under).rglob("*.py")):
        if under == "." and path.is_relative_to(root / KERNEL):
            continue
        lines = path.read_text().splitlines()
        for index in range(len(lines) - 2):
            opener, value, closer = lines[index : index + 3]
            commented = "  # " in value + closer
            if opener.endswith("= (") and closer.lstrip().startswith(")") and commented:
                where = f"{path.relative_to(root)}:{index + 1}"
                found.append(f"{where}: {opener.strip()} {value.strip()} {closer.strip()}")
    return found


@pytest.mark.parametrize("config", CONFIGS)
def test_no_value_is_wrapped_for_its_comment(shops: Callable[[str], Path], config: str) -> None:
    found = formatter_parentheses(shops(config))
    assert found == [], "\n".join(found)


def test_mypy_strict_passes(shops: Callable[[str], Path]) -> None:
    result = run([sys.executable, "-m", "mypy", "--strict", "src", "tests"], shops("service"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_tests_pass(shops: Callable[[str], Path]) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result = run(command, shops("service"))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    # The service's pytest configuration leaves pytest-asyncio nothing to warn about.
    assert "PytestDeprecationWarning" not in result.stdout + result.stderr, result.stdout[-5000:]
