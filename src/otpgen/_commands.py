"""What `new`, `init`, `update` and `check` do once their arguments are parsed.

Two front ends parse command lines: the typer application (`_cli`), which owns the help,
prompts and every unusual command line, and `_entry`'s fast path, which parses the plain
command lines of `new`, `update` and `check` itself so that they do not import typer (about
a third of a `new`). Both call these functions, so a command behaves the same whichever
parsed it. Nothing here imports typer.
"""

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

if TYPE_CHECKING:
    from otpgen._generate import NewRequest
    from otpgen._plan import Plan
    from otpgen._report import Report

T = TypeVar("T")


class Exit(Exception):
    """Leave the command with this exit status (what it had to say is said)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def write(text: str, *, err: bool = False) -> None:
    """Print `text` as it is; a reader that went away (`| head`) ends the run quietly."""
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        raise Exit(1) from None


def fail(message: str, code: int = 2) -> NoReturn:
    """One `error:` line, then the exit status."""
    write(f"error: {message}\n", err=True)
    raise Exit(code)


def engine(action: Callable[[], T]) -> T:
    """Run an engine call, turning its errors into one line and an exit code."""
    from otpgen._errors import OtpgenError

    try:
        return action()
    except OtpgenError as exc:
        fail(str(exc), exc.exit_code)
    except Exit:
        raise
    except OSError as exc:  # the disk said no before anything was written (apply says so
        # itself when something was)
        where = f": {exc.filename}" if exc.filename else ""
        fail(f"{exc.strerror or exc}{where}; nothing was written")
    except Exception as exc:
        if os.environ.get("OTPGEN_DEBUG") or type(exc).__module__.startswith(("typer", "click")):
            raise  # the typer front end's own signals (Exit, Abort) pass through
        fail(f"internal error: {exc!r}; rerun with OTPGEN_DEBUG=1 for the traceback", 3)


def print_report(report: "Report", as_json: bool) -> None:
    """Print a report; exit with its status when that is not 0."""
    out, err = report.render(as_json)
    if out:
        write(out if as_json else coloured(out))
    if err:
        write(err, err=True)
    if report.exit_code:
        raise Exit(report.exit_code)


def emit(
    plan: "Plan",
    *,
    dry_run: bool,
    as_json: bool,
    fold: tuple[str, str] | None = None,
    diffs: bool = True,
) -> None:
    """Apply the plan (unless a dry run) and print its one report."""
    from otpgen._plan import apply_plan
    from otpgen._report import plan_report

    if not dry_run:
        engine(lambda: apply_plan(plan))
    print_report(plan_report(plan, dry_run=dry_run, fold=fold, diffs=diffs), as_json)


def new(
    *,
    pattern: str,
    name: str | None,
    package: str | None,
    settings: Sequence[str],
    dry_run: bool,
    force: bool,
    overwrite_edited: bool,
    stdout: bool,
    as_json: bool,
    wire: bool,
    ask: "Callable[[NewRequest], NewRequest] | None" = None,
) -> None:
    """`otpgen new`; `ask` prompts for the options not given (a terminal only)."""
    from otpgen._generate import NewRequest, parse_settings, plan_new

    request = NewRequest(
        pattern=pattern,
        name=name,
        package=package,
        settings=engine(lambda: parse_settings(list(settings))),
        force=force,
        overwrite_edited=overwrite_edited,
        wire=wire,
    )
    if ask is not None:
        asked = ask
        request = engine(lambda: asked(request))
    plan = engine(lambda: plan_new(request))
    if stdout:
        write(plan.details["module"])
        return
    kernel = f"{plan.changes[0].path.parent.as_posix()}/otp/"
    emit(plan, dry_run=dry_run, as_json=as_json, fold=(kernel, f"{kernel} (the kernel)"))


def remove(
    *,
    pattern: str,
    name: str,
    package: str | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """`otpgen remove`."""
    from otpgen._remove import RemoveRequest, plan_remove

    request = RemoveRequest(pattern=pattern, name=name, package=package, force=force)
    plan = engine(lambda: plan_remove(request))
    emit(plan, dry_run=dry_run, as_json=as_json)


def update(
    *,
    paths: Sequence[Path],
    dry_run: bool,
    rej: bool,
    restore_deleted: bool,
    as_json: bool,
) -> None:
    """`otpgen update`."""
    from otpgen._update import plan_update

    plan = engine(
        lambda: plan_update(Path.cwd(), paths=list(paths), rej=rej, restore_deleted=restore_deleted)
    )
    emit(plan, dry_run=dry_run, as_json=as_json)


def check(*, as_json: bool) -> None:
    """`otpgen check`."""
    from otpgen._report import check_report
    from otpgen._update import check as run_check

    print_report(check_report(engine(lambda: run_check(Path.cwd()))), as_json)


# Diffs on a terminal: added lines green, removed red, hunk headers cyan. Plain when stdout
# is not a terminal or NO_COLOR is set (https://no-color.org). ANSI codes rather than rich:
# rich's import would cost more than a whole `otpgen update`.
_COLOURS = (("+++", "\x1b[1m"), ("---", "\x1b[1m"), ("@@", "\x1b[36m"))
_SIGNS = {"+": "\x1b[32m", "-": "\x1b[31m"}


def coloured(text: str) -> str:
    """`text` with the lines of its unified diffs coloured, when stdout is a terminal."""
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    lines = []
    for line in text.splitlines(keepends=True):
        colour = next((c for prefix, c in _COLOURS if line.startswith(prefix)), None)
        colour = colour or _SIGNS.get(line[:1])
        body = line.rstrip("\n")
        lines.append(f"{colour}{body}\x1b[0m{line[len(body) :]}" if colour else line)
    return "".join(lines)


def diff(*, paths: Sequence[Path], summary: bool) -> None:
    """`otpgen diff`: what `update` would change, as diffs or one line a file; writes
    nothing."""
    from otpgen._update import plan_update

    plan = engine(lambda: plan_update(Path.cwd(), paths=list(paths)))
    changed = [c for c in plan.changes if c.writes]
    if not changed:
        write("nothing to update: every file is as the templates render it\n")
        return
    if not summary:
        write(coloured("".join(c.diff() for c in changed)))
        return
    added = removed = 0
    lines = []
    for change in changed:
        body = change.diff().splitlines()[2:]  # past the ---/+++ header
        plus = sum(1 for line in body if line.startswith("+"))
        minus = sum(1 for line in body if line.startswith("-"))
        added, removed = added + plus, removed + minus
        lines.append(f"{change.action.value:9} {change.path.as_posix()}  (+{plus} -{minus})\n")
    conflicts = sum(1 for c in changed if c.action.value == "conflict")
    total = f"{len(changed)} file(s), +{added} -{removed}"
    lines.append(total + (f", {conflicts} with conflicts\n" if conflicts else "\n"))
    write("".join(lines))
