"""Where otpgen's templates live, installed or in a checkout."""

from pathlib import Path


def templates_dir() -> Path:
    """Return the directory holding otpgen's templates (``kernel/``, later ``patterns/``...).

    A built wheel ships them inside the package as ``otpgen/templates``. An editable install
    or a source checkout has no such directory; there the repository's top-level
    ``templates/`` is used instead.
    """
    shipped = Path(__file__).parent / "templates"
    if shipped.is_dir():
        return shipped
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "otpgen's templates directory is missing: expected it at "
        f"{shipped} (installed package) or {checkout} (source checkout); "
        "reinstall otpgen"
    )
