"""The kernel never hangs a tree: kills at awkward moments, children that ignore their
cancellation, supervisors that restart in a tight loop, and signals during startup.

Every test runs on looptime's fake loop clock; a test that hangs fails (idle_timeout).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from helpers import Attempts, Worker, child, crash, worker_spec
from otp import (
    ChildNotFound,
    ChildSpec,
    DynamicSupervisor,
    GenServer,
    NoProcess,
    Ok,
    Supervisor,
    TaskSupervisor,
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


# 2. A supervisor found by name while it is starting


async def starting(cls: type[GenServer], name: str) -> tuple[asyncio.Task[Any], GenServer]:
    """Start `cls` under `name` in a task and return as soon as the name is registered,
    before its init has run: what a client finds just after a parent restarted it."""
    task = asyncio.create_task(cls.start(name=name))
    await asyncio.sleep(0)  # the start registered the name; the process has not run yet
    process = whereis(name)
    assert process is not None
    return task, process


async def test_a_dynamic_supervisor_found_while_starting_answers_once_it_is_up() -> None:
    task, found = await starting(DynamicSupervisor, "dyn")
    assert isinstance(found, DynamicSupervisor)
    counts = await found.count_children()
    assert counts.active == 0
    w = await found.start_child(Worker.child_spec("w", name="w"))
    assert [info.process for info in await found.which_children()] == [w]
    sup = await task
    assert sup is found
    await found.terminate_child(w)
    assert not w.alive
    await sup.stop()


async def test_each_dynamic_supervisor_api_waits_for_init() -> None:
    for use in ("which_children", "count_children", "terminate_child"):
        task, found = await starting(DynamicSupervisor, "dyn")
        assert isinstance(found, DynamicSupervisor)
        if use == "terminate_child":
            with pytest.raises(ChildNotFound):
                await found.terminate_child(found)
        else:
            await getattr(found, use)()
        await (await task).stop()


async def test_a_task_supervisor_found_while_starting_runs_work() -> None:
    task, found = await starting(TaskSupervisor, "tasks")
    assert isinstance(found, TaskSupervisor)
    ran: list[str] = []

    async def job() -> str:
        ran.append("job")
        return "done"

    fire = found.start_child(job)
    handle = found.async_nolink(job)
    sup = await task
    await fire
    assert await handle.yield_() == Ok("done")
    assert ran == ["job", "job"]
    await sup.stop()


# 3. Restarts that fail without awaiting


class Ticker:
    """A task that counts loop steps while it runs."""

    def __init__(self) -> None:
        self.ticks = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.wait((self.task,))


@pytest.mark.parametrize("kind", ["supervisor", "dynamic"])
async def test_a_supervisor_burning_through_its_restarts_lets_other_tasks_run(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)  # thousands of failed restarts are logged
    attempts = Attempts(fail=lambda n: n > 1)  # every restart fails before any await
    spec = worker_spec("w", attempts=attempts)
    sup: GenServer
    if kind == "supervisor":
        sup = await Supervisor.start([spec], max_restarts=2000)
        w = await child(sup, "w")
    else:
        sup = await DynamicSupervisor.start(max_restarts=2000)
        w = await sup.start_child(spec)
    ticker = Ticker()
    await crash(w)
    before = ticker.ticks
    await sup.wait_exit()
    during = ticker.ticks - before
    await ticker.stop()
    assert attempts.count > 2000  # it did give up after its restarts
    assert during > 1000, f"the ticker ran {during} times while the supervisor restarted"
