"""The ``otpgen`` command line.

The CLI only parses arguments, calls the engine and prints. Keep this module's imports light:
``otpgen --version`` must not pay for jinja2, cookiecutter or merge3, so any command that needs
them imports them inside its function.
"""

from typing import Annotated

import typer

from otpgen._version import __version__

HELP = (
    "otpgen writes ready-to-run Python asyncio modules for Erlang/OTP process patterns "
    "(GenServer, Supervisor, Registry, ...), bootstraps service repositories around a "
    "supervision tree, and regenerates after template upgrades keeping user edits. Its "
    "runtime, the kernel (standard-library asyncio only), is vendored into your package "
    "as <package>/otp/."
)

app = typer.Typer(help=HELP, add_completion=False)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"otpgen {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the otpgen version and exit.",
        ),
    ] = False,
) -> None:
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def main() -> None:
    """Run the ``otpgen`` command line (the console script's entry point)."""
    app(prog_name="otpgen")
