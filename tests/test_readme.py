"""The README's quick start and CI run the same test command, byte for byte."""

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    match = re.search(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, "README.md's Quick start has no ```sh block"
    return match.group(1).splitlines()


def test_quick_start_is_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install . && ")


def test_the_first_command_runs_otpgens_main_job(tmp_path: Path) -> None:
    # Everything after the install, run with the otpgen this test suite has installed.
    main_job = _quick_start_commands()[0].removeprefix("pip install . && ")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        ["bash", "-c", f"{main_job}\npwd"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Pasted as one block, the next line still runs where the block started.
    assert Path(lines[-1]) == tmp_path
    service = Path(next(line for line in lines if line.startswith("service: "))[9:])
    assert service.parent.parent == tmp_path
    assert (service / "src" / "shop" / "application.py").is_file()
    assert "Inventory.child_spec" in (service / "src/shop/application.py").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _quick_start_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines
