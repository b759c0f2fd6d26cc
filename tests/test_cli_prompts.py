"""On a terminal, `otpgen new` asks for every option not given with --set."""

import contextlib
import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from clikit import otpgen_exe, shop_project

from otpgen._patterns import load_patterns
from otpgen._templates import templates_dir


class Terminal:
    """`otpgen` on a pseudo-terminal: read what it prints, type answers."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [otpgen_exe(), *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; saw {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode()
                except OSError:  # the child closed the terminal
                    break
        assert text in self.seen, f"never saw {text!r}; saw {self.seen!r}"

    def type(self, line: str) -> None:
        os.write(self.master, f"{line}\n".encode())

    def finish(self) -> int:
        code = self.process.wait(timeout=30)
        with_rest = select.select([self.master], [], [], 0.1)[0]
        if with_rest:
            with contextlib.suppress(OSError):
                self.seen += os.read(self.master, 65536).decode()
        os.close(self.master)
        return code


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return shop_project(tmp_path)


def test_new_asks_for_unset_options_and_uses_the_answers(project: Path) -> None:
    terminal = Terminal(["new", "genserver", "jobs", "--set", "shutdown=2.5"], project)
    terminal.expect("restart (permanent | transient | temporary) [permanent]:")
    terminal.type("sometimes")
    terminal.expect("expected restart to be one of permanent, transient, temporary")
    terminal.type("transient")
    terminal.expect("with_continue (bool) [false]:")
    terminal.type("")
    assert terminal.finish() == 0, terminal.seen
    assert "created   src/shop/jobs.py" in terminal.seen
    assert "shutdown" not in terminal.seen.split("created")[0]  # given with --set: not asked
    module = (project / "src/shop/jobs.py").read_text()
    assert "child_restart = otp.TRANSIENT" in module
    assert "child_shutdown = 2.5" in module


def test_no_input_never_prompts_on_a_terminal(project: Path) -> None:
    terminal = Terminal(["new", "agent", "--no-input"], project)
    assert terminal.finish() == 0, terminal.seen
    assert "[permanent]" not in terminal.seen
    assert "created   src/shop/agent.py" in terminal.seen


def test_a_bad_name_fails_before_any_question(project: Path) -> None:
    terminal = Terminal(["new", "genserver", "queue"], project)
    assert terminal.finish() == 2
    assert "[permanent]" not in terminal.seen
    assert "'queue' shadows the standard library module" in terminal.seen


def test_an_answer_that_breaks_a_check_is_asked_again(project: Path) -> None:
    terminal = Terminal(["new", "connection-pool", "pool", "--set", "health_check=false"], project)
    terminal.expect("min_size (int in 0..100) [1]:")
    terminal.type("20")
    terminal.expect("max_size (int in 1..10000) [10]:")
    terminal.type("")  # the default, 10, is less than the 20 just given
    terminal.expect(
        "connection-pool needs min_size <= max_size (the pool keeps min_size connections open "
        "but never opens more than max_size); got min_size=20 and max_size=10: "
        "pass --set min_size=10 or less, or --set max_size=20 or more"
    )
    terminal.expect("max_size (int in 1..10000) [10]:")
    terminal.type("25")
    terminal.expect("checkout_timeout (float in 0.001..86400) [5.0]:")
    terminal.type("")
    assert terminal.finish() == 0, terminal.seen
    module = (project / "src/shop/pool.py").read_text()
    assert "MIN_SIZE: Final = 20" in module
    assert "MAX_SIZE: Final = 25" in module


def test_a_set_option_counts_in_the_checks_of_the_answers(project: Path) -> None:
    terminal = Terminal(["new", "connection-pool", "pool", "--set", "max_size=4"], project)
    terminal.expect("min_size (int in 0..100) [1]:")
    terminal.type("5")
    terminal.expect("got min_size=5 and max_size=4: pass --set min_size=4 or less")
    terminal.expect("min_size (int in 0..100) [1]:")
    terminal.type("4")
    terminal.expect("checkout_timeout")
    terminal.type("")
    terminal.expect("health_check")
    terminal.type("")
    assert terminal.finish() == 0, terminal.seen
    assert "MIN_SIZE: Final = 4" in (project / "src/shop/pool.py").read_text()


def test_set_options_that_break_a_check_fail_before_any_question(project: Path) -> None:
    sets = ["--set", "min_size=20"]
    terminal = Terminal(["new", "connection-pool", "pool", *sets, "--set", "max_size=5"], project)
    assert terminal.finish() == 2
    assert "[5.0]" not in terminal.seen  # checkout_timeout was never asked
    assert "error: connection-pool needs min_size <= max_size" in terminal.seen
    assert not (project / "src/shop/pool.py").exists()


def test_each_question_shows_the_options_help_and_numbers_its_choices(project: Path) -> None:
    terminal = Terminal(["new", "genserver", "jobs", "--set", "with_continue=true"], project)
    terminal.expect("restart: ")
    terminal.expect("  1  permanent\r\n  2  transient\r\n  3  temporary\r\n")
    terminal.expect("restart (permanent | transient | temporary) [permanent]:")
    terminal.type("4")  # no fourth choice: read as a name, and refused as one
    terminal.expect("expected restart to be one of permanent, transient, temporary, got: '4'")
    terminal.type("3")
    terminal.expect("shutdown: ")
    terminal.type("")
    assert terminal.finish() == 0, terminal.seen
    assert "child_restart = otp.TEMPORARY" in (project / "src/shop/jobs.py").read_text()


def test_new_without_a_pattern_on_a_terminal_offers_the_list(project: Path) -> None:
    terminal = Terminal(["new"], project)
    terminal.expect("Which pattern?")
    terminal.expect("  1  agent ")
    terminal.expect("  9  task ")  # numbers right-aligned once there are ten or more
    shipped = len(load_patterns(templates_dir()))
    terminal.expect(f"pattern (1-{shipped} or a name) [agent]:")
    terminal.type("8")
    terminal.expect("strategy")
    for _ in range(8):  # Enter keeps each default, however many questions there are
        terminal.type("")
    assert terminal.finish() == 0, terminal.seen
    assert (project / "src/shop/supervisor.py").is_file()


def test_new_without_a_pattern_off_a_terminal_is_a_usage_error(project: Path) -> None:
    result = subprocess.run(
        [otpgen_exe(), "new"], cwd=project, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stderr == "error: Missing argument 'PATTERN'. (see `otpgen new --help`)\n"


def test_questions_go_to_stderr_and_stdout_keeps_only_the_result(project: Path) -> None:
    master, slave = os.openpty()
    process = subprocess.Popen(
        [otpgen_exe(), "new", "agent", "box"],
        cwd=project,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    seen = ""
    while "[permanent]:" not in seen:
        assert select.select([master], [], [], 20)[0], seen
        seen += os.read(master, 4096).decode()
    os.write(master, b"\n" * 8)
    out, _ = process.communicate(timeout=30)
    os.close(master)
    assert process.returncode == 0
    assert "[permanent]" not in out.decode()
    assert "created   src/shop/box.py" in out.decode()
