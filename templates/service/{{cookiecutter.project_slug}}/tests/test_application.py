"""The application tree starts, answers, and stops in order; `python -m` runs and stops it."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import otp
from {{ cookiecutter.package_name }}.application import children


@pytest.mark.asyncio
async def test_the_tree_starts_every_child_and_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTP_WEB_PORT", "0")  # a web child, if any, on a free port
    specs = children()
    root = await otp.Supervisor.start(specs)
    try:
        counts = await root.count_children()
        assert counts.active == len(specs)
    finally:
        await root.stop(otp.SHUTDOWN)
    assert not root.alive


def test_python_dash_m_runs_until_sigterm_and_exits_0() -> None:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    env["OTP_WEB_PORT"] = "0"  # a web child, if any, on a free port
    process = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = threading.Timer(30, process.kill)  # a hang fails the test instead of blocking
    deadline.start()
    try:
        for line in process.stderr:
            if "ready" in line:
                break
        else:
            pytest.fail("the application exited before it was ready")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        deadline.cancel()
        if process.poll() is None:
            process.kill()
