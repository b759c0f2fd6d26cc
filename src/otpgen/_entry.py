"""The ``otpgen`` console script: what happens before typer is loaded, and around it.

Three things the command line needs that typer does not give:

- Ctrl-C ends otpgen with exit status 130 and one line, never a traceback, at any moment
  from the first line of this module on: the SIGINT handler goes in before typer is imported;
- a usage error (an unknown option, a missing argument, a bad value) is one line on stderr,
  ``error: <what click says> (see `otpgen <command> --help`)``, and exit status 2;
- ``--version`` and the help screens answer without importing typer, which alone costs
  several times Python's own start-up: the version is known here, and each help screen typer
  prints is kept in otpgen's cache, keyed by everything that shapes it (otpgen's and typer's
  files, the terminal's width), and printed from there the next time.

Keep this module's imports to the lightest of the standard library.
"""

import os
import signal
import sys

from otpgen._version import __version__

TYPE_CHECKING = False  # typing itself is not light: see the module's doc
if TYPE_CHECKING:
    from types import FrameType
    from typing import NoReturn

PROG = "otpgen"
COMPLETE_VAR = "_OTPGEN_COMPLETE"  # typer's shell completion talks to otpgen through it
INTERRUPTED = "error: interrupted"

_interrupted = False
_armed = False  # main's `try` is under way: a Ctrl-C may raise from here on


def main() -> "NoReturn":
    """Run the ``otpgen`` command line (the console script's entry point)."""
    global _armed
    code: int | str | None = 130
    try:
        _armed = True
        _install()  # (done at import already when run as the console script)
        if _interrupted:  # a Ctrl-C came before the `try`: it was only noted
            raise KeyboardInterrupt
        try:
            code = _run(sys.argv[1:])
        except SystemExit as exit_:
            code = exit_.code
        except Exception:
            if not _interrupted:
                raise
            # A Ctrl-C that Python wrapped on its way up is still a Ctrl-C: on 3.11 one
            # raised in a class's __set_name__ (an import under way) comes out as a
            # RuntimeError.
            raise KeyboardInterrupt from None
        if _interrupted:  # a layer below (click, typer) made an exit status of the Ctrl-C
            raise KeyboardInterrupt
        # Done. signal.signal() runs a handler still pending first, inside this `try`; after
        # it, a late Ctrl-C has nothing left to stop and must not turn into a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # On a terminal the cursor sits after the echoed ^C (or a prompt): start a new line.
        _say(f"\n{INTERRUPTED}" if _isatty() else INTERRUPTED)
        code = 130
    sys.exit(code)


def _on_interrupt(signum: int, frame: "FrameType | None") -> None:
    global _interrupted
    _interrupted = True
    if not _armed:  # before main's `try` (or between the import and it): main raises it
        return
    # Every Ctrl-C interrupts, the second as the first. Ignoring the later ones would hang
    # otpgen for good whenever Python swallows the first (a KeyboardInterrupt raised inside a
    # __del__ or a weakref callback is printed as "ignored" and dropped) while it waits at a
    # prompt. Files need no such shield: the apply step holds SIGINT back while it commits,
    # and a half-staged write is rolled back by the next command.
    raise KeyboardInterrupt


def _install() -> None:
    # A SIGINT inherited ignored (a background job) stays ignored, as Python leaves it.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)
        if sys.unraisablehook is not _unraisable:
            global _python_unraisablehook
            _python_unraisablehook = sys.unraisablehook
            sys.unraisablehook = _unraisable


def _unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    """A Ctrl-C that lands in a __del__ or a weakref callback cannot propagate from there;
    Python would print it as "Exception ignored", with a traceback. It is noted in
    `_interrupted`, so main ends with the one line of any Ctrl-C when the command returns,
    and the next Ctrl-C interrupts at once (making it pending again from here would only
    run the handler in here: Python checks for signals as this hook returns)."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        _python_unraisablehook(unraisable)


_python_unraisablehook = sys.unraisablehook


# Installed as the console script (or `python -m otpgen`) imports this module, so that no
# Ctrl-C between the import and main's `try` is Python's to report. Imported by anything
# else (a test, a tool), the module leaves that program's Ctrl-C alone until main runs.
_script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
if _script.startswith("otpgen") or sys.argv[0].endswith(os.path.join("otpgen", "__main__.py")):
    _install()


def _run(args: list[str]) -> int | str | None:
    if COMPLETE_VAR in os.environ:  # shell completion: typer's business
        return _typer(args)
    if args == ["--version"]:
        return _print(f"{PROG} {__version__}\n")
    if args and args[0] in ("new", "update", "check"):  # the fast path: no typer
        from otpgen import _fastpath

        parsed = _fastpath.parse(args)
        if parsed is not None:
            return _fastpath.run(*parsed)
    entry = _help_entry(args)
    if entry is None:
        return _typer(args)
    path, key = entry
    cached = _read_help(path, key)
    if cached is not None:
        return _print(cached)
    import io

    stdout, sys.stdout = sys.stdout, io.StringIO()
    try:
        code = _typer(args)
    finally:
        text = sys.stdout.getvalue() if isinstance(sys.stdout, io.StringIO) else ""
        sys.stdout = stdout
    if code == 0 and text:
        _write_help(path, key, text)
    printed = _print(text)
    return code or printed


def _typer(args: list[str]) -> int | str | None:
    """Run the typer app on `args`; click's errors become one line."""
    import typer
    from typer._click.exceptions import ClickException, UsageError

    from otpgen._cli import app

    try:
        result = app(args=args, prog_name=PROG, standalone_mode=False)
    except UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else _command_of(args, error)
        _say(f"error: {_one_line(error.format_message())} (see `{command} --help`)")
        return 2
    except ClickException as error:
        _say(f"error: {_one_line(error.format_message())}")
        return error.exit_code
    except typer.Abort:  # click's prompts turn Ctrl-C and end-of-file into Abort
        if not _interrupted:
            _say("error: aborted: no answer (end of input)")
            return 2  # an input error, as an unanswerable question off a terminal
        return 130
    # Without standalone mode typer returns the code of a typer.Exit, else the command's value.
    return result if isinstance(result, int) else 0


def _command_of(args: list[str], error: Exception) -> str:
    """The command line's command, for the few parser errors click raises without a context.

    otpgen's own options are all flags, so the first word not an option names the command,
    unless the bad option came before it.
    """
    option = getattr(error, "option_name", None)
    for arg in args:
        if arg == "--" or arg.split("=", 1)[0] == option:
            break
        if not arg.startswith("-"):
            return f"{PROG} {arg}"
    return PROG


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


# The help screens' cache


def _help_entry(args: list[str]) -> tuple[str, str] | None:
    """Where the help screen `args` asks for is cached, and the key it must carry; None if
    `args` asks for something else or caching is off. `-h` is `--help`."""
    args = ["--help" if arg == "-h" else arg for arg in args]
    if not (
        args in ([], ["--help"]) or (len(args) == 2 and args[1] == "--help" and _is_word(args[0]))
    ):
        return None
    root = _cache_dir()
    if root is None:
        return None
    name = "--".join([PROG, *(a.strip("-") for a in args)]) if args else f"{PROG}--bare"
    key = "\t".join(
        [
            __version__,
            repr(args),
            str(_help_width()),
            os.environ.get("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", ""),
            _files_stamp(os.path.dirname(os.path.abspath(__file__))),
            _files_stamp(_package_dir("typer")),
        ]
    )
    return os.path.join(root, "help", name), key


def _is_word(arg: str) -> bool:
    return arg[:1].isalpha() and all(c.isalnum() or c in "-_" for c in arg)


def _cache_dir() -> str | None:
    """otpgen's cache directory (as `otpgen._cache.cache_dir`, without pathlib), or None."""
    if os.environ.get("OTPGEN_NO_CACHE"):
        return None
    explicit = os.environ.get("OTPGEN_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "otpgen")


def _help_width() -> int:
    """The width click wraps help to: its terminal width as `shutil.get_terminal_size`
    reads it (COLUMNS first), at most 80, less 2, at least 50."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
            columns = 0
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def _package_dir(name: str) -> str:
    for entry in sys.path:
        candidate = os.path.join(entry or ".", name)
        if os.path.isfile(os.path.join(candidate, "__init__.py")):
            return candidate
    return ""


def _files_stamp(directory: str) -> str:
    """Name, size and modification time of each Python file in `directory`."""
    try:
        with os.scandir(directory) as entries:
            stats = sorted((e.name, e.stat()) for e in entries if e.name.endswith(".py"))
    except OSError:
        return "?"
    return ";".join(f"{name}:{st.st_size}:{st.st_mtime_ns}" for name, st in stats)


def _read_help(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            stored_key = file.readline()
            return file.read() if stored_key == f"{key}\n" else None
    except (OSError, UnicodeDecodeError):
        return None


def _write_help(path: str, key: str, text: str) -> None:
    """Cache `text` at `path`, atomically; silently skipped if the cache is unwritable."""
    staged = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(staged, "w", encoding="utf-8") as file:
            file.write(f"{key}\n{text}")
        os.replace(staged, path)
    except OSError:  # unwritable: the next run renders the screen again
        try:
            os.unlink(staged)
        except OSError:
            return


# Printing


def _print(text: str) -> int:
    """Write `text` to stdout: 0, or 1 when the reader went away (`otpgen --help | head -1`)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:  # no stderr left to say it on
        return


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        return False
