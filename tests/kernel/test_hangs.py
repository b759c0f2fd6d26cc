"""The kernel never hangs a tree: kills at awkward moments, children that ignore their
cancellation, supervisors that restart in a tight loop, and signals during startup.

Every test runs on looptime's fake loop clock; a test that hangs fails (idle_timeout).
"""

from __future__ import annotations

import asyncio

import pytest
from helpers import Attempts, Worker, child, crash
from otp import (
    ChildSpec,
    DynamicSupervisor,
    GenServer,
    NoProcess,
    Supervisor,
    whereis,
)

pytestmark = pytest.mark.looptime(idle_timeout=2)  # a hang fails instead of hanging


def kill_before_first_step(name: str) -> None:
    """Cancel the process registered as `name` in the loop step its start registers it in,
    before its task has run at all (the callback is queued ahead of the task's first step)."""

    def kill() -> None:
        process = whereis(name)
        assert process is not None
        assert process.alive
        process._kill()

    asyncio.get_running_loop().call_soon(kill)


# 1. A process cancelled before its task first runs


async def test_a_process_killed_before_its_first_step_fails_its_start_and_frees_its_name() -> None:
    kill_before_first_step("early")
    with pytest.raises(NoProcess):
        await Worker.start("early", name="early")
    assert whereis("early") is None
    again = await Worker.start("again", name="early")  # the name is free
    assert again.alive
    await again.stop()


def killed_on_attempt(n: int, name: str, attempts: Attempts) -> ChildSpec:
    """A spec for Worker `name` whose start attempt `n` is killed before its first step."""

    async def start() -> GenServer:
        attempts.count += 1
        if attempts.count == n:
            kill_before_first_step(name)
        return await Worker.start(name, name=name)

    return ChildSpec(name, start)


async def test_a_supervisor_whose_restarted_child_is_killed_before_its_first_step_goes_on() -> None:
    attempts = Attempts()
    sup = await Supervisor.start([killed_on_attempt(2, "w", attempts)], max_restarts=5)
    await crash(await child(sup, "w"))
    for _ in range(5):
        await sup.count_children()
    assert attempts.count == 3  # the killed start failed and was retried
    w = await child(sup, "w")
    assert w.alive
    assert whereis("w") is w
    await sup.stop()


async def test_a_dynamic_supervisor_whose_restarted_child_is_killed_early_goes_on() -> None:
    attempts = Attempts()
    sup = await DynamicSupervisor.start(max_restarts=5)
    w = await sup.start_child(killed_on_attempt(2, "w", attempts))
    await crash(w)
    await asyncio.sleep(1)  # the restarts happen in the supervisor's task
    assert attempts.count == 3
    (info,) = await sup.which_children()
    assert info.process is not None
    assert info.process.alive
    assert whereis("w") is info.process
    await sup.stop()
