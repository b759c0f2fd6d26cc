"""The command line's edges: usage errors in one line, Ctrl-C without a traceback, a fast start."""

import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import otpgen, otpgen_exe, shop_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_prompts import Terminal

from otpgen import _entry

COMMANDS = ["list", "show", "new", "init", "update", "check", "advise", "observe"]


# Usage errors


@pytest.mark.parametrize(
    ("args", "message", "command"),
    [
        (["--bogus"], "No such option: --bogus", "otpgen"),
        (["nope"], "No such command 'nope'.", "otpgen"),
        (["new"], "Missing argument 'pattern'.", "otpgen new"),
        (
            ["list", "--format", "xml"],
            "Invalid value for '--format': 'xml' is not one of 'text', 'json'.",
            "otpgen list",
        ),
        # click raises these two without a context: the command comes from the command line
        (["new", "genserver", "--set"], "Option '--set' requires an argument.", "otpgen new"),
        (["--version=3", "new"], "Option '--version' does not take a value.", "otpgen"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help_to_read(
    args: list[str], message: str, command: str
) -> None:
    result = otpgen(*args)
    assert result.returncode == 2
    # (typer 0.26 writes the argument's metavar in capitals: 'PATTERN')
    assert result.stderr.lower() == f"error: {message} (see `{command} --help`)\n".lower()
    assert result.stdout == ""


option_names = st.from_regex(r"--[a-z][a-z-]{0,12}", fullmatch=True)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(COMMANDS), option=option_names)
def test_any_unknown_option_is_one_line_and_exit_2(
    command: str, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from typer.main import get_command

    from otpgen._cli import app

    params = get_command(app).commands[command].params  # type: ignore[attr-defined]
    known = {"--help", *(name for p in params for name in (*p.opts, *p.secondary_opts))}
    if option in known:
        return
    assert _entry._typer([command, option]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert re.fullmatch(
        rf"error: No such option: {re.escape(option)}[^\n]* \(see `otpgen {command} --help`\)\n",
        err,
    ), err


def test_help_and_version_still_succeed() -> None:
    version = otpgen("--version")
    assert (version.returncode, version.stderr) == (0, "")
    assert version.stdout.startswith("otpgen ")
    for args in ([], ["--help"], *([c, "--help"] for c in COMMANDS)):
        result = otpgen(*args)
        assert (result.returncode, result.stderr) == (0, ""), args
        assert result.stdout.startswith("Usage: otpgen"), args


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_dash_h_is_help(command: str | None) -> None:
    words = [command] if command else []
    short, long = otpgen(*words, "-h"), otpgen(*words, "--help")
    assert (short.returncode, short.stderr) == (0, ""), words
    assert short.stdout == long.stdout
    assert "-h, --help" in short.stdout


def test_end_of_input_at_a_prompt_is_one_line_and_exit_2(tmp_path: Path) -> None:
    terminal = Terminal(["new", "genserver", "jobs"], shop_project(tmp_path))
    terminal.expect("restart (permanent | transient | temporary) [permanent]:")
    os.write(terminal.master, b"\x04")  # Ctrl-D: the end of the input
    assert terminal.finish() == 2, terminal.seen
    assert "error: aborted" in terminal.seen
    assert "Traceback" not in terminal.seen
    assert not (tmp_path / "src/shop/jobs.py").exists()


# Ctrl-C

STDLIB = sysconfig.get_paths()["stdlib"]
OTPGEN_DIR = os.path.dirname(_entry.__file__)
FRAME = re.compile(r'^  File "([^"]+)", line \d+, in (\S+)$', re.MULTILINE)


def _before_otpgen_started(stderr: str) -> bool:
    """A KeyboardInterrupt the interpreter reports while it starts, before otpgen's `main`.

    Python installs its own SIGINT handler before it imports `site` (and the modules of the
    .pth files) and runs the console script, whose first lines import `re` and then otpgen's
    entry module: a SIGINT landing there is Python's to report, as for any Python program.
    Anything heavier (typer, the engine) and everything from `main` on must come after
    otpgen's own handler.
    """
    # ("KeyboardInterrupt: " when it landed in a weakref callback, which Python reports
    # as "Exception ignored in: ..." and then goes on)
    if not stderr.rstrip().removesuffix(":").endswith("KeyboardInterrupt"):
        return False
    if stderr.startswith("Fatal Python error: init_"):  # the interpreter's own start-up
        return True
    frames = FRAME.findall(stderr)
    return all(
        file.startswith("<frozen ")
        # (code the standard library compiles as it imports: namedtuple's `eval`)
        or file == "<string>"
        or (file.startswith(STDLIB) and "site-packages" not in file)
        or file == otpgen_exe()
        or (file.startswith(OTPGEN_DIR) and function == "<module>")
        for file, function in frames
    )


def _interrupt_at(delay: float, args: list[str], cwd: Path) -> tuple[int, str]:
    process = subprocess.Popen(
        [otpgen_exe(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def _sweep(args: list[str], fresh_cwd: Iterator[Path], points: int = 15) -> set[int]:
    """SIGINT `otpgen ARGS` at `points` delays from 0 to one uninterrupted run's duration."""
    started = time.perf_counter()
    subprocess.run([otpgen_exe(), *args], cwd=next(fresh_cwd), capture_output=True, check=True)
    duration = time.perf_counter() - started
    codes = set()
    for i in range(points):
        delay = duration * i / (points - 1)
        code, stderr = _interrupt_at(delay, args, next(fresh_cwd))
        where = f"SIGINT after {delay * 1e3:.0f} ms of {duration * 1e3:.0f} ms"
        if code == -signal.SIGINT and stderr == "":  # before Python had a handler
            continue
        if _before_otpgen_started(stderr):
            continue
        assert "Traceback" not in stderr, f"{where}:\n{stderr}"
        assert code in (0, 130), f"{where}: exit status {code}\n{stderr}"
        if code == 130:
            assert stderr == "error: interrupted\n", where
        codes.add(code)
    return codes


def _projects(tmp_path: Path) -> Iterator[Path]:
    for i in range(100):
        yield shop_project(tmp_path / f"p{i}")


def _directories(tmp_path: Path) -> Iterator[Path]:
    for i in range(100):
        (tmp_path / f"d{i}").mkdir()
        yield tmp_path / f"d{i}"


def test_the_sweep_leaves_to_python_only_what_lands_before_otpgen_started() -> None:
    in_a_weakref_callback = (
        "Exception ignored in: <function _get_module_lock.<locals>.cb at 0x7f43becb5800>\n"
        "Traceback (most recent call last):\n"
        '  File "<frozen importlib._bootstrap>", line 199, in cb\n'
        "KeyboardInterrupt: \n"
    )
    assert _before_otpgen_started(in_a_weakref_callback)
    in_otpgen = in_a_weakref_callback.replace(
        '  File "<frozen importlib._bootstrap>", line 199, in cb\n',
        f'  File "{OTPGEN_DIR}/_engine.py", line 9, in apply\n',
    )
    assert not _before_otpgen_started(in_otpgen)


def test_ctrl_c_during_new_exits_130_without_a_traceback(tmp_path: Path) -> None:
    codes = _sweep(["new", "genserver", "inventory", "--no-input"], _projects(tmp_path))
    assert 130 in codes


def test_ctrl_c_during_init_exits_130_without_a_traceback(tmp_path: Path) -> None:
    codes = _sweep(["init", "svc", "--no-input"], _directories(tmp_path))
    assert 130 in codes


def test_ctrl_c_while_typer_is_imported_exits_130_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTPGEN_NO_CACHE", "1")  # the help screen through typer, every time
    codes = _sweep(["--help"], _directories(tmp_path))
    assert 130 in codes


def _main_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raised: Exception
) -> tuple[object, str]:
    """main()'s exit code and stderr when its command raises `raised` after a Ctrl-C."""

    def run(args: list[str]) -> int:
        monkeypatch.setattr(_entry, "_interrupted", True)
        raise raised

    monkeypatch.setattr(_entry, "_run", run)
    monkeypatch.setattr(_entry, "_install", lambda: None)  # (this process's own Ctrl-C)
    monkeypatch.setattr(_entry, "_armed", False)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exit_:
            _entry.main()
    finally:
        signal.signal(signal.SIGINT, previous)
    return exit_.value.code, capsys.readouterr().err


def test_a_ctrl_c_that_python_wrapped_in_another_error_is_still_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # On Python 3.11 a KeyboardInterrupt raised in a class's __set_name__ (as otpgen's
    # handler does when a Ctrl-C lands during an import) comes out as a RuntimeError.
    wrapped = RuntimeError("Error calling __set_name__ on 'cached_property' instance")
    wrapped.__cause__ = KeyboardInterrupt()
    code, err = _main_with(monkeypatch, capsys, wrapped)
    assert (code, err) == (130, "error: interrupted\n")


def test_an_error_with_no_ctrl_c_behind_it_is_not_called_an_interrupt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_entry, "_run", lambda args: 1 / 0)
    monkeypatch.setattr(_entry, "_install", lambda: None)
    monkeypatch.setattr(_entry, "_interrupted", False)
    monkeypatch.setattr(_entry, "_armed", False)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(ZeroDivisionError):
            _entry.main()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_in_a_finaliser_ends_otpgen_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python cannot raise from a __del__: it would print "Exception ignored" and a
    # traceback, and go on. otpgen says nothing there and ends with its one line.
    class Finalised:
        def __del__(self) -> None:
            raise KeyboardInterrupt  # (where otpgen's handler raises a Ctrl-C that lands here)

    def run(args: list[str]) -> int:
        item = Finalised()
        del item
        return 0

    monkeypatch.setattr(_entry, "_run", run)
    monkeypatch.setattr(_entry, "_armed", False)
    monkeypatch.setattr(_entry, "_interrupted", True)  # (as the handler notes it)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with pytest.raises(SystemExit) as exit_:
            _entry.main()
        unraisable = sys.unraisablehook
    finally:
        signal.signal(signal.SIGINT, previous)
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "error: interrupted\n"
    assert unraisable is _entry._unraisable


def test_other_errors_in_a_finaliser_are_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[BaseException | None] = []
    monkeypatch.setattr(_entry, "_python_unraisablehook", lambda u: seen.append(u.exc_value))

    class Finalised:
        def __del__(self) -> None:
            raise ValueError("in __del__")

    monkeypatch.setattr(sys, "unraisablehook", _entry._unraisable)
    item = Finalised()
    del item
    assert [type(error) for error in seen] == [ValueError]


def test_ctrl_c_at_a_prompt_exits_130_in_one_line(tmp_path: Path) -> None:
    terminal = Terminal(["new", "genserver", "jobs"], shop_project(tmp_path))
    terminal.expect("restart (permanent | transient | temporary) [permanent]:")
    os.kill(terminal.process.pid, signal.SIGINT)
    assert terminal.finish() == 130, terminal.seen
    after_prompt = terminal.seen.split("[permanent]:", 1)[1]
    assert after_prompt.strip() == "error: interrupted", terminal.seen
    assert not (tmp_path / "src/shop/jobs.py").exists()


def test_ctrl_c_at_any_instant_of_a_prompt_exits_130(tmp_path: Path) -> None:
    # input() loses a SIGINT that lands between its last signal check and its blocking read;
    # about one run in twelve then waited at the prompt forever (at once after the prompt
    # shows is when the window is open: that is when the signal is sent).
    for run in range(40):
        terminal = Terminal(["new", "genserver", "jobs"], shop_project(tmp_path / str(run)))
        terminal.expect("[permanent]:")
        os.kill(terminal.process.pid, signal.SIGINT)
        try:
            code = terminal.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            terminal.process.kill()
            terminal.finish()
            pytest.fail(f"run {run}: still at the prompt 10 s after Ctrl-C")
        assert terminal.finish() == code == 130, terminal.seen


# A fast start: --version and the help screens without typer


def _imports(*args: str, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """What `python -m otpgen ARGS` prints, and the modules it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "otpgen", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    return result.stdout, modules


def test_version_does_not_import_typer() -> None:
    stdout, modules = _imports("--version")
    assert stdout == f"otpgen {_entry.__version__}\n"
    assert "typer" not in modules


@pytest.mark.parametrize("args", [[], ["--help"], ["new", "--help"], ["advise", "--help"]])
@pytest.mark.parametrize("columns", ["60", "100"])
def test_a_help_screen_is_printed_again_without_typer_as_typer_printed_it(
    args: list[str], columns: str
) -> None:
    env = {**os.environ, "COLUMNS": columns}
    uncached, modules = _imports(*args, env={**env, "OTPGEN_NO_CACHE": "1"})
    assert "typer" in modules
    first, _ = _imports(*args, env=env)
    again, modules = _imports(*args, env=env)
    assert first == again == uncached
    assert "typer" not in modules


def test_a_help_screen_cached_under_another_key_is_not_printed(tmp_path: Path) -> None:
    env = {**os.environ, "OTPGEN_CACHE_DIR": str(tmp_path), "COLUMNS": "80"}
    truth = subprocess.run(
        [otpgen_exe(), "--help"], env=env, capture_output=True, text=True, check=True
    ).stdout
    (stored,) = (tmp_path / "help").iterdir()
    key = stored.read_text().split("\n", 1)[0]
    stored.write_text(f"{key}\nfrom the cache\n")
    served = subprocess.run(
        [otpgen_exe(), "--help"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert served == "from the cache\n"  # the key matched: the cache is what was printed
    stored.write_text(f"{key.replace('--help', '--other')}\nfrom the cache\n")
    served = subprocess.run(
        [otpgen_exe(), "--help"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert served == truth
    assert stored.read_text() == f"{key}\n{truth}"


def test_a_help_screen_key_changes_with_the_width_and_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTPGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "80")
    entry = _entry._help_entry(["--help"])
    assert entry is not None
    monkeypatch.setenv("COLUMNS", "70")
    assert _entry._help_entry(["--help"]) != entry
    (tmp_path / "a.py").write_text("x = 1\n")
    stamp = _entry._files_stamp(str(tmp_path))
    (tmp_path / "a.py").write_text("x = 10\n")
    assert _entry._files_stamp(str(tmp_path)) != stamp


def test_the_help_cache_lives_in_otpgens_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otpgen._cache import cache_dir

    for name in ("OTPGEN_NO_CACHE", "OTPGEN_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _entry._cache_dir() == str(cache_dir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _entry._cache_dir() == str(cache_dir())
    monkeypatch.setenv("OTPGEN_CACHE_DIR", str(tmp_path / "own"))
    assert _entry._cache_dir() == str(cache_dir())
    monkeypatch.setenv("OTPGEN_NO_CACHE", "1")
    assert _entry._cache_dir() is None
    assert cache_dir() is None


def test_shell_completion_still_answers() -> None:
    env = {**os.environ, "_OTPGEN_COMPLETE": "complete_bash", "COMP_WORDS": "otpgen ne"}
    result = subprocess.run(
        [otpgen_exe()], env={**env, "COMP_CWORD": "1"}, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["new"]


def complete(words: str) -> list[str]:
    env = {**os.environ, "_OTPGEN_COMPLETE": "complete_bash", "COMP_WORDS": words}
    env["COMP_CWORD"] = str(len(words.split()) - 1)
    result = subprocess.run([otpgen_exe()], env=env, capture_output=True, text=True, check=True)
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("otpgen new ra", ["rate-limiter"]),
        ("otpgen show s", ["session-worker", "supervisor"]),
        ("otpgen new rate-limiter --set al", ["algorithm="]),
        ("otpgen new rate-limiter limits --set algorithm=t", ["algorithm=token-bucket"]),
        ("otpgen new cache --set sweeper=", ["sweeper=true", "sweeper=false"]),
        ("otpgen new cache --set nokey=", []),
        ("otpgen new nosuch --set a", []),
    ],
)
def test_completion_knows_pattern_names_and_their_options(words: str, expected: list[str]) -> None:
    assert complete(words) == expected


def test_every_ctrl_c_interrupts_not_only_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_entry, "_interrupted", False)
    monkeypatch.setattr(_entry, "_armed", True)
    # Python drops a KeyboardInterrupt raised inside __del__ or a weakref callback; if later
    # ones were ignored, a prompt would then wait for good.
    for _ in range(2):
        with pytest.raises(KeyboardInterrupt):
            _entry._on_interrupt(signal.SIGINT, None)


def test_a_ctrl_c_before_main_runs_is_noted_and_main_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The console script's handler goes in as _entry is imported; a Ctrl-C that lands before
    # main's `try` must not raise where nothing catches it (a traceback): it is noted.
    monkeypatch.setattr(_entry, "_interrupted", False)
    monkeypatch.setattr(_entry, "_armed", False)
    monkeypatch.setattr(_entry.signal, "signal", lambda *args: None)  # pytest keeps its own
    monkeypatch.setattr(sys, "argv", ["otpgen", "--version"])
    _entry._on_interrupt(signal.SIGINT, None)  # returns: main is not under way yet
    with pytest.raises(SystemExit) as exited:
        _entry.main()
    assert exited.value.code == 130
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "error: interrupted\n")
