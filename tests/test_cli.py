"""The ``otpgen`` command line: version, help, errors, and the shipped templates."""

import shutil
import subprocess
import sys

import otpgen
from otpgen._templates import templates_dir


def _otpgen(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("otpgen")
    assert exe is not None, "the otpgen console script is not installed: run `pip install .`"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_public_exports_are_pinned() -> None:
    assert otpgen.__all__ == ["__version__"]
    assert sorted(name for name in vars(otpgen) if not name.startswith("_")) == []


def test_version_prints_the_package_version() -> None:
    result = _otpgen("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"otpgen {otpgen.__version__}\n"


def test_help_describes_the_tool() -> None:
    result = _otpgen("--help")
    assert result.returncode == 0, result.stderr
    assert "Erlang/OTP" in result.stdout
    assert "--version" in result.stdout


def test_no_arguments_prints_help_and_succeeds() -> None:
    result = _otpgen()
    assert result.returncode == 0, result.stderr
    assert "Erlang/OTP" in result.stdout


def test_python_dash_m_prints_the_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otpgen", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"otpgen {otpgen.__version__}\n"


def test_unknown_command_fails_without_a_traceback() -> None:
    result = _otpgen("no-such-command")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "no-such-command" in output
    assert "Traceback" not in output


def test_version_does_not_import_the_rendering_libraries() -> None:
    code = (
        "import sys, otpgen._cli; "
        "print(sorted({'jinja2', 'cookiecutter', 'merge3'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "[]\n"


def test_templates_dir_holds_the_kernel() -> None:
    assert (templates_dir() / "kernel" / "otp" / "__init__.py").is_file()
