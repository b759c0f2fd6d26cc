"""Kernel tests import the kernel as it stands under templates/kernel, as package `otp`.

Every test runs with a leak check: when it ends, no process or task it started may
still be running, and no local name may still be registered.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

KERNEL_DIR = Path(__file__).resolve().parents[2] / "templates" / "kernel"
sys.path.insert(0, str(KERNEL_DIR))

from otp import _deadlines, _reports, _steps  # noqa: E402


@pytest.fixture
async def queued_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starts on this test's loop leave the new process's first step to the loop's next
    turn, as on a loop that is not asyncio's own (uvloop, say): see `_step_now`."""
    loop_type = type(asyncio.get_running_loop())
    monkeypatch.setitem(_steps._EAGER_LOOPS, loop_type, False)


@pytest.fixture(autouse=True)
def fresh_crash_reports() -> None:
    """Each test's first crash of a kind is reported in full, whatever ran before it."""
    _reports._seen.clear()


@pytest.fixture(autouse=True)
async def no_leaks() -> AsyncIterator[None]:
    before = set(asyncio.all_tasks())
    yield
    for _ in range(3):  # let exits that are already under way finish
        await asyncio.sleep(0)
    # The teardown may run in a task of its own (pytest-asyncio >= 1.0): not a leak.
    leaked = [
        t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()
    ]
    table = _deadlines._local_names(asyncio.get_running_loop())
    names = dict(table)
    table.clear()
    for task in leaked:
        task.cancel()
    if leaked:
        await asyncio.wait(leaked, timeout=5)
    assert not leaked, f"tasks still running after the test: {leaked}"
    assert not names, f"names still registered after the test: {names}"
