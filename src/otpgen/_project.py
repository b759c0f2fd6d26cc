"""Finding the user's project and the package generated modules go into."""

import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from otpgen._errors import OtpgenError


@dataclass(frozen=True)
class Project:
    """A project root (the directory of pyproject.toml) and its target package."""

    root: Path
    package: str  # dotted import path, e.g. "billing" or "acme.billing"
    package_dir: PurePosixPath  # relative to root, e.g. "src/billing"


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding a pyproject.toml."""
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    raise OtpgenError(
        f"no pyproject.toml in {start} or any parent directory; run otpgen inside a Python "
        "project (or create one with `otpgen init`)"
    )


def _configured_package(root: Path) -> str | None:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise OtpgenError(f"{root / 'pyproject.toml'} is not valid TOML: {exc}") from None
    value = data.get("tool", {}).get("otpgen", {}).get("package")
    if value is not None and not isinstance(value, str):
        raise OtpgenError(f"[tool.otpgen] package must be a string, got: {value!r}")
    return value


def _package_dir(root: Path, package: str) -> PurePosixPath | None:
    parts = package.split(".")
    if not all(part.isidentifier() for part in parts):
        raise OtpgenError(f"expected a dotted package name such as `billing`, got: {package!r}")
    for base in (PurePosixPath("src"), PurePosixPath()):
        candidate = base.joinpath(*parts)
        if (root / candidate / "__init__.py").is_file():
            return candidate
    return None


def _detect(root: Path) -> str:
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        found = sorted(
            child.name
            for child in base.iterdir()
            if (child / "__init__.py").is_file() and child.name not in {"tests", "test"}
        )
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise OtpgenError(
                f"found several packages in {base} ({', '.join(found)}); choose one with "
                "--package or set [tool.otpgen] package in pyproject.toml"
            )
    raise OtpgenError(
        f"no Python package found in {root}/src or {root}; create one (a directory with "
        "__init__.py) or pass --package"
    )


def open_project(start: Path, package: str | None = None) -> Project:
    """The project around `start`, with `package` or the configured or detected one."""
    root = find_root(start.resolve())
    chosen = package or _configured_package(root) or _detect(root)
    directory = _package_dir(root, chosen)
    if directory is None:
        raise OtpgenError(
            f"package {chosen!r} not found: expected {root}/src/{chosen.replace('.', '/')}"
            "/__init__.py or the same without src/"
        )
    return Project(root=root, package=chosen, package_dir=directory)
