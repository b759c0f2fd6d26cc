"""otpgen's own code and the kernel it vendors pass `mypy --strict`, as generated code does.

The generated projects are checked in tests/generated; this keeps the code they are made
from to the same standard (the kernel with no configuration of the project's but strict).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mypy_strict(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_otpgen_and_the_kernel_pass_mypy_strict(tmp_path: Path) -> None:
    result = mypy_strict("src/otpgen", "templates/kernel/otp", cwd=ROOT, cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_the_kernel_passes_mypy_strict_with_no_configuration(tmp_path: Path) -> None:
    # As a user's project sees it: its own package, with none of this project's settings
    # (mypy would find pyproject.toml in a parent directory).
    kernel = ROOT / "templates" / "kernel"
    result = mypy_strict("--config-file", "", "otp", cwd=kernel, cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
