"""Finding the user's project and the package generated modules go into."""

import keyword
from pathlib import Path, PurePosixPath

from otpgen._errors import OtpgenError
from otpgen._files import brief, read_toml, table
from otpgen._record import frozen


@frozen
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
    pyproject = root / "pyproject.toml"
    data = read_toml(pyproject) or {}
    value = table(data, "tool.otpgen", str(pyproject)).get("package")
    if value is not None and (not isinstance(value, str) or not value):
        raise OtpgenError(
            f"{pyproject}: expected [tool.otpgen] package to be a package name such as "
            f"`billing`, got: {brief(value)}"
        )
    return value


def _check_package_name(package: str) -> list[str]:
    parts = package.split(".")
    if not package or not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise OtpgenError(
            f"expected a dotted package name such as `billing` or `acme.billing`, "
            f"got: {brief(package)}"
        )
    return parts


def _importable(root: Path, base: PurePosixPath, parts: list[str]) -> PurePosixPath | None:
    """`base/part/...` if it is a package (has __init__.py) reached through directories.

    The directories on the way may be namespace packages (no __init__.py, PEP 420), except a
    top-level `src/` of the flat layout: that is the src layout's directory, not a package.
    """
    directory = base.joinpath(*parts)
    if not (root / directory / "__init__.py").is_file():
        return None
    flat_src = base == PurePosixPath() and parts[0] == "src" and len(parts) > 1
    if flat_src and not (root / "src" / "__init__.py").is_file():
        return None
    return directory


def _package_dir(root: Path, package: str) -> PurePosixPath | None:
    """Where `package` is imported from: relative to src/ (src layout), else to the root.

    Every component must be a package, so `src.shop` is not the package under src/shop
    (that one imports as `shop`).
    """
    parts = _check_package_name(package)
    if (root / "src").is_dir():
        found = _importable(root, PurePosixPath("src"), parts)
        if found is not None:
            return found
    return _importable(root, PurePosixPath(), parts)


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
    if package is not None:
        _check_package_name(package)
    chosen = package if package is not None else _configured_package(root) or _detect(root)
    directory = _package_dir(root, chosen)
    if directory is None:
        parts = chosen.split(".")
        hint = ""
        if parts[0] == "src" and len(parts) > 1 and _package_dir(root, ".".join(parts[1:])):
            hint = f"; src/ is not part of the import path: pass --package {'.'.join(parts[1:])}"
        raise OtpgenError(
            f"package {chosen!r} not found: expected {root}/src/{chosen.replace('.', '/')}"
            f"/__init__.py or the same without src/{hint}"
        )
    return Project(root=root, package=chosen, package_dir=directory)


def shadowing_package(project: Project, module: str) -> PurePosixPath | None:
    """`<package_dir>/<module>`, if that directory exists (relative to the project root).

    A package (or namespace directory) there would be imported instead of the generated
    `<module>.py`, so generating it would write a module nothing can import.
    """
    directory = project.package_dir / module
    return directory if (project.root / directory).is_dir() else None
