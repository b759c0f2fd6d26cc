"""End to end: `otpgen init` a service, add every pattern, and run it for real.

The service's own checks and tests pass; `python -m <package>` starts the tree and logs
that it is ready; SIGTERM stops the children in reverse start order and exits 0; a child
that keeps crashing makes the root supervisor give up and the process exit non-zero.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from clikit import otpgen

from otpgen._patterns import load_patterns
from otpgen._templates import templates_dir
from otpgen._wire import Wiring, wire

CRASHER = '''"""A worker that crashes soon after every start: the root supervisor gives up."""

from billing import otp


class Crasher(otp.GenServer):
    """Crashes 20 ms after it starts, every time."""

    async def init(self) -> None:
        self.send_after("crash", 0.02)

    async def handle_info(self, msg: object) -> None:
        raise RuntimeError("crashing on purpose")
'''


NO_DEPRECATIONS = ["-W", "error::DeprecationWarning"]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service bootstrapped by otpgen init with every pattern added (and wired)."""
    base = tmp_path_factory.mktemp("svc")
    result = otpgen("init", "billing", "--no-input", cwd=base)
    assert result.returncode == 0, result.stderr
    root = base / "billing"
    for name, pattern in load_patterns(templates_dir()).items():
        result = otpgen("new", name, "--no-input", cwd=root)
        assert result.returncode == 0, result.stderr
        wired = "src/billing/application.py  (wired into the supervision tree)" in result.stdout
        # pubsub has no process with its default (memory) backend
        has_process = pattern.wiring("billing", name, "Name") is not None
        assert wired == has_process, result.stdout
    return root


def test_the_services_own_checks_and_tests_pass(service: Path) -> None:
    for command in (
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy", "--strict", "src", "tests"],
        # A deprecation warning, pytest-asyncio's about its configuration included, fails.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NO_DEPRECATIONS],
    ):
        result = run(command, service)
        assert result.returncode == 0, f"{command}: {result.stdout[-4000:]}{result.stderr[-2000:]}"
        assert "DeprecationWarning" not in result.stdout + result.stderr, result.stdout[-4000:]


def test_wiring_is_idempotent_and_check_is_clean(service: Path) -> None:
    app = (service / "src/billing/application.py").read_text()
    result = otpgen("new", "genserver", "--no-input", cwd=service)
    assert result.returncode == 0
    assert (service / "src/billing/application.py").read_text() == app
    assert otpgen("check", cwd=service).returncode == 0


def start(root: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OTP_LOG_LEVEL": "DEBUG"}
    env["OTP_WEB_PORT"] = "0"  # the web child on a free port: tests may run side by side
    process = subprocess.Popen(
        [sys.executable, "-m", "billing"], cwd=root, env=env, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "ready" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(timeout=30)
    return process, lines


def children_of_root(lines: list[str], verb: str) -> list[str]:
    # The root is the first supervisor to log; its children are the wired patterns.
    found = [
        re.search(rf"<Supervisor at (0x[0-9a-f]+) \w+>: {verb} child (\S+):", line)
        for line in lines
    ]
    matches = [m for m in found if m]
    root = matches[0].group(1) if matches else None
    return [m.group(2) for m in matches if m.group(1) == root]


def test_sigterm_stops_the_children_in_reverse_order_and_exits_0(service: Path) -> None:
    process, lines = start(service)
    try:
        assert any("ready" in line for line in lines), "".join(lines)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    started = children_of_root(lines, "started")
    stopped = children_of_root(lines, "stopping")
    patterns = load_patterns(templates_dir()).values()
    wired = [p for p in patterns if p.wiring("billing", p.name, "Name") is not None]
    assert len(started) == len(wired)
    assert stopped == started[::-1]
    assert any("application stopped" in line for line in lines)


def test_a_child_that_keeps_crashing_makes_the_service_exit_non_zero(
    service: Path, tmp_path: Path
) -> None:
    crashing = tmp_path / "crashing"
    shutil.copytree(service, crashing)
    (crashing / "src/billing/crasher.py").write_text(CRASHER)
    app = crashing / "src/billing/application.py"
    crasher = Wiring(("from billing.crasher import Crasher",), "Crasher.child_spec()")
    app.write_text(wire(app.read_text(), crasher))
    process, lines = start(crashing)
    try:
        assert process.wait(timeout=60) == 1, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    assert any("reached max restart intensity" in line for line in lines)
