"""The kernel's example application runs to the end and leaves nothing running."""

import subprocess
import sys
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parents[2] / "templates" / "kernel"


def test_the_example_application_runs_its_scene_and_stops_cleanly() -> None:
    result = subprocess.run(
        [sys.executable, str(KERNEL_DIR / "example.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert "two concurrent first requests, one process: True" in log
    assert "bob restarted by his supervisor: True" in log
    assert "sessions left after idling: 0" in log
    assert "tree stopped; nothing left running: True" in log
