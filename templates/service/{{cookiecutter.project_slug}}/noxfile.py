"""`nox` runs lint, typecheck and tests; `nox -s NAME` runs one."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package and the tests."""
    session.install("-e", ".[test]")
    session.run("mypy", "--strict", "src", "tests")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)
