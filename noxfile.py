"""Developer and CI sessions: ``nox`` runs lint, typecheck and tests; ``nox -s NAME`` runs one."""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]

ROOT = Path(__file__).parent
LINT_PATHS = ["src", "tests", "templates", "benchmarks", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff")
    # Skip paths that do not exist yet (benchmarks/ arrives later): ruff fails on a missing path.
    paths = [path for path in LINT_PATHS if (ROOT / path).exists()]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the engine and the kernel with mypy --strict."""
    session.install(".[test]")
    session.run("mypy", "--strict", "src")
    session.run("mypy", "--strict", "templates/kernel/otp")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site, failing on any warning."""
    session.install(".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks against the peer libraries."""
    session.install(".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)
