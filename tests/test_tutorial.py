"""docs/tutorial.md runs as written: every command, every file it writes, and its output.

The page's ```console blocks run in order in one bash session in an empty directory, with
the otpgen first on PATH (this test suite's); the ```python blocks titled with a path are written
there first. Each command must exit 0, and each output line the page shows must match a line
of the real output, in order ("..." standing for any text). The observer step (```sh blocks)
is not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"

FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="(?P<path>[^"]+)"')


@dataclass
class Console:
    """A console block: its commands, and the output lines shown after each."""

    line: int
    commands: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class File:
    """A python block titled with the path it is written to."""

    line: int
    path: str
    text: str


def steps(markdown: str) -> list[Console | File]:
    """The page's runnable blocks, in order."""
    found: list[Console | File] = []
    for match in FENCE.finditer(markdown):
        info, body = match["info"].strip(), match["body"]
        line = markdown.count("\n", 0, match.start()) + 1
        if info == "console":
            block = Console(line)
            for text in body.splitlines():
                if text.startswith("$ "):
                    block.commands.append((text[2:], []))
                else:
                    assert block.commands, f"tutorial.md:{line}: output before any command"
                    block.commands[-1][1].append(text)
            found.append(block)
        elif info.startswith("python") and (title := TITLE.search(info)):
            found.append(File(line, title["path"], body))
    return found


def pattern(shown: str) -> re.Pattern[str]:
    """A shown output line as a regex: literal text, "..." for any text."""
    return re.compile(".*".join(re.escape(part) for part in shown.split("...")))


def test_the_page_has_the_steps_the_brief_asks_for() -> None:
    commands = [
        command
        for step in steps(TUTORIAL.read_text(encoding="utf-8"))
        if isinstance(step, Console)
        for command, _ in step.commands
    ]
    assert commands[0].startswith("otpgen init shop")
    for needed in ("otpgen new session-worker", "otpgen new rate-limiter", "otpgen new cache"):
        assert any(command.startswith(needed) for command in commands), needed
    assert any(command.startswith("python crash.py") for command in commands)
    assert any(command.startswith("otpgen update") for command in commands)


def test_the_pattern_of_a_shown_line() -> None:
    assert pattern("... INFO shop.otp: ready").fullmatch("2026-12-02 05:00 INFO shop.otp: ready")
    assert not pattern("exit status 1").fullmatch("exit status 10")
    assert pattern("a (b) [c] ...").fullmatch("a (b) [c] anything")


@pytest.mark.skipif(shutil.which("bash") is None, reason="the tutorial's commands are bash")
def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    otpgen = shutil.which("otpgen")
    assert otpgen is not None, "no otpgen on PATH: run `pip install -e .[test]`"
    blocks = steps(TUTORIAL.read_text(encoding="utf-8"))
    # One bash session for the whole page, so `cd`, the activated venv and `$!` carry over.
    # Each command is followed by a marker with its exit status, its output captured between.
    script = ["exec 2>&1", "cd " + str(tmp_path)]
    expected: list[tuple[int, str, list[str]]] = []
    for block in blocks:
        if isinstance(block, File):
            script.append(
                f"mkdir -p \"$(dirname '{block.path}')\" && cat > '{block.path}' <<'TUTORIAL_EOF'"
            )
            script.extend([*block.text.splitlines(), "TUTORIAL_EOF"])
            continue
        for command, shown in block.commands:
            index = len(expected)
            expected.append((block.line, command, shown))
            script.append(f"echo '@@start {index}@@'")
            script.append(command)
            script.append(f'echo "@@end {index} $?@@"')
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for variable in ("VIRTUAL_ENV", "PYTHONPATH", "OTP_LOG_LEVEL", "OTP_LOG_FORMAT"):
        env.pop(variable, None)
    result = subprocess.run(
        ["bash", "--noprofile", "--norc"],
        input="\n".join(script) + "\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout
    for index, (line, command, shown) in enumerate(expected):
        where = f"tutorial.md:{line}: `{command}`"
        found = re.search(rf"@@start {index}@@\n(.*?)@@end {index} (\d+)@@\n", output, re.DOTALL)
        assert found is not None, f"{where} did not run; the session's output:\n{output[-3000:]}"
        text, status = found[1], int(found[2])
        assert status == 0, f"{where} exited with status {status}:\n{text}"
        lines = text.splitlines()
        position = 0
        for want in shown:
            regex = pattern(want)
            while position < len(lines) and not regex.fullmatch(lines[position]):
                position += 1
            assert position < len(lines), (
                f"{where}: the output shown on the page, {want!r}, is not in the real "
                f"output (in order):\n{text}"
            )
            position += 1
