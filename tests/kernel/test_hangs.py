"""The kernel never hangs a tree: kills at awkward moments, children that ignore their
cancellation, supervisors that restart in a tight loop, and signals during startup.

Every test runs on looptime's fake loop clock; a test that hangs fails (idle_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

import pytest
from helpers import Attempts, Events, Worker, child, crash, worker_spec
from otp import (
    KILLED,
    ChildNotFound,
    ChildSpec,
    Continue,
    DynamicSupervisor,
    GenServer,
    NoProcess,
    Ok,
    Stop,
    Supervisor,
    TaskSupervisor,
    whereis,
)
from otp._shutdown import KILL_GRACE

pytestmark = pytest.mark.looptime(idle_timeout=2)  # a hang fails instead of hanging


def kill_before_first_step(name: str) -> None:
    """Cancel the process registered as `name` in the loop step its start registers it in,
    before its task has run at all (the callback is queued ahead of the task's first step)."""

    def kill() -> None:
        process = whereis(name)
        assert process is not None
        assert process.alive
        process._otp_kill()

    asyncio.get_running_loop().call_soon(kill)


# 1. A process cancelled before its task first runs


@pytest.mark.usefixtures("queued_starts")
async def test_a_process_killed_before_its_first_step_fails_its_start_and_frees_its_name() -> None:
    kill_before_first_step("early")
    with pytest.raises(NoProcess):
        await Worker.start("early", name="early")
    assert whereis("early") is None
    again = await Worker.start("again", name="early")  # the name is free
    assert again.alive
    await again.stop()


async def test_a_process_killed_in_the_step_that_started_it_terminates_and_frees_its_name() -> None:
    # asyncio's own loop: `start` took the process's first step, so init has returned and
    # the kill lands on a running process.
    kill_before_first_step("early")
    early = await Worker.start("early", name="early")
    assert early.ready
    await early.wait_exit()
    assert early.exit_reason == KILLED
    assert early.terminated_with == KILLED
    assert whereis("early") is None
    again = await Worker.start("again", name="early")  # the name is free
    await again.stop()


def killed_on_attempt(n: int, name: str, attempts: Attempts) -> ChildSpec:
    """A spec for Worker `name` whose start attempt `n` is killed before its first step."""

    async def start() -> GenServer:
        attempts.count += 1
        if attempts.count == n:
            kill_before_first_step(name)
        return await Worker.start(name, name=name)

    return ChildSpec(name, start)


@pytest.mark.usefixtures("queued_starts")
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


@pytest.mark.usefixtures("queued_starts")
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


class RefusesToStart(DynamicSupervisor):
    async def init(self, **options: Any) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("refused")


@pytest.mark.usefixtures("queued_starts")  # (found before its first step)
@pytest.mark.parametrize("how", ["killed", "init raises"])
@pytest.mark.parametrize("use", ["which_children", "count_children", "terminate_child"])
async def test_a_dynamic_supervisor_found_while_starting_that_never_comes_up_says_no_process(
    how: str, use: str
) -> None:
    cls = DynamicSupervisor if how == "killed" else RefusesToStart
    task, found = await starting(cls, "dyn")
    assert isinstance(found, DynamicSupervisor)
    args = (found,) if use == "terminate_child" else ()
    waiting = asyncio.create_task(getattr(found, use)(*args))  # (asked before the end)
    if how == "killed":
        found._otp_kill()
    with pytest.raises((NoProcess, RuntimeError)):
        await task
    for answer in (waiting, asyncio.create_task(getattr(found, use)(*args))):
        with pytest.raises(NoProcess):  # (was AttributeError)
            await answer


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
        self.task = asyncio.create_task(self._otp_run())

    async def _otp_run(self) -> None:
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


class CrashesOnceStarted(GenServer):
    """Starts, then crashes (or stops) in handle_continue, never awaiting."""

    async def init(self, how: str) -> Continue:
        return Continue(how)

    async def handle_continue(self, how: Any) -> Stop:
        if how == "crash":
            raise RuntimeError("crashed as soon as it started")
        return Stop()  # (a permanent child: restarted all the same)


@pytest.mark.parametrize("how", ["crash", "stop normal"])
@pytest.mark.parametrize("kind", ["supervisor", "dynamic", "over a supervisor giving up"])
async def test_a_child_exiting_as_it_starts_does_not_starve_the_loop_while_restarted(
    kind: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL)
    spec = CrashesOnceStarted.child_spec(how)
    if kind == "over a supervisor giving up":  # each restart of it gives up at once
        spec = Supervisor.child_spec([spec], max_restarts=0)
    ticker = Ticker()
    before = ticker.ticks
    if kind == "dynamic":
        sup: GenServer = await DynamicSupervisor.start(max_restarts=1000)
        await sup.start_child(spec)  # type: ignore[attr-defined]
    else:
        sup = await Supervisor.start([spec], max_restarts=1000)
    await sup.wait_exit()
    during = ticker.ticks - before
    await ticker.stop()
    assert during > 500, f"the ticker ran {during} times while the supervisor restarted"


# 4. Children that swallow their cancellation


async def wait_ignoring_cancellation(release: asyncio.Event) -> None:
    """Wait for `release`, swallowing every cancellation meanwhile (a badly written child)."""
    while not release.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await release.wait()


class Stubborn(GenServer):
    """Its terminate ignores cancellation until `release` is set."""

    async def init(self, release: asyncio.Event) -> None:
        self.release = release

    async def terminate(self, reason: object) -> None:
        await wait_ignoring_cancellation(self.release)


async def stop_or_release(sup: GenServer, release: asyncio.Event) -> None:
    """Stop `sup`; if that fails (it hangs: 60 s on the fake clock), release the stubborn one
    so the test fails instead of hanging."""
    try:
        async with asyncio.timeout(60):
            await sup.stop()
    except BaseException:
        release.set()
        raise


def abandoned(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and "abandoning" in r.getMessage()
    ]


@pytest.mark.parametrize("kind", ["supervisor", "dynamic"])
async def test_a_child_swallowing_its_cancellation_is_abandoned_and_the_rest_stop(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    events: Events = []
    release = asyncio.Event()
    stubborn = dataclasses.replace(
        Stubborn.child_spec(release, name="stubborn"), id="stubborn", shutdown=1.0
    )
    sup: GenServer
    if kind == "supervisor":
        sup = await Supervisor.start([worker_spec("a", events), stubborn])
        stuck = await child(sup, "stubborn")
    else:
        sup = await DynamicSupervisor.start()
        await sup.start_child(worker_spec("a", events))
        stuck = await sup.start_child(stubborn)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stop_or_release(sup, release)
    assert loop.time() - began == pytest.approx(1.0 + KILL_GRACE)
    assert ("stop", "a") in events  # the rest of the tree stopped
    (message,) = abandoned(caplog)
    assert "'stubborn'" in message
    assert "budget 1.0s" in message
    assert stuck._otp_task is not None
    assert not stuck._otp_task.done()  # abandoned: it runs until released
    release.set()
    await stuck.wait_exit()


async def test_a_task_supervisor_abandons_a_task_swallowing_its_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        await wait_ignoring_cancellation(release)

    sup = await TaskSupervisor.start()
    task = sup.start_child(stubborn)
    await asyncio.sleep(0)
    await stop_or_release(sup, release)
    (message,) = abandoned(caplog)
    assert "stubborn" in message
    assert not task.done()
    release.set()
    await task


async def test_an_async_stream_closed_early_abandons_a_task_swallowing_its_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def work(n: int) -> int:
        if n == 0:
            return n
        await wait_ignoring_cancellation(release)
        return n

    sup = await TaskSupervisor.start()
    try:
        async with asyncio.timeout(60):
            stream = sup.async_stream([0, 1], work, timeout=None)
            async with contextlib.aclosing(stream):
                async for result in stream:
                    assert result == Ok(0)
                    break
    finally:
        release.set()
    (message,) = abandoned(caplog)
    assert "work" in message
    release.set()
    await asyncio.sleep(0)
    await sup.stop()


# 5. A killed supervisor waits for its children


class SlowToDie(GenServer):
    """Its terminate takes a few loop steps to clean up even when it is cancelled."""

    async def terminate(self, reason: object) -> None:
        try:
            await asyncio.sleep(1)
        finally:
            for _ in range(10):
                await asyncio.sleep(0)


@pytest.mark.parametrize("kind", ["supervisor", "dynamic"])
async def test_a_killed_supervisor_exits_after_its_children_so_its_restart_finds_names_free(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    # parent -> sub -> inner -> w, every one named; sub is killed and parent restarts it.
    inner_spec = Supervisor.child_spec([SlowToDie.child_spec(name="w")], name="inner")
    if kind == "supervisor":
        sub_spec = Supervisor.child_spec([inner_spec], name="sub")
    else:

        async def start_sub() -> GenServer:
            sub = await DynamicSupervisor.start(name="sub")
            await sub.start_child(inner_spec)
            return sub

        sub_spec = ChildSpec("sub", start_sub, shutdown=None)
    parent = await Supervisor.start([sub_spec], max_restarts=1)
    old = [whereis(name) for name in ("sub", "inner", "w")]
    assert all(p is not None and p.alive for p in old)
    old_sub = old[0]
    assert old_sub is not None
    old_sub._otp_kill()
    await old_sub.wait_exit()
    assert [p.alive for p in old if p is not None] == [False, False, False]
    for _ in range(5):
        await parent.count_children()
    assert parent.alive
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    new = [whereis(name) for name in ("sub", "inner", "w")]
    assert all(p is not None and p.alive and p not in old for p in new)
    await parent.stop()


# 6. A stop while the tree is starting (the signals themselves: test_app.py)


async def test_cancelling_a_supervisor_start_returns_once_the_started_children_stopped() -> None:
    events: Events = []
    starting = asyncio.create_task(
        Supervisor.start(
            [
                worker_spec("a", events, terminate_delay=0.5),
                worker_spec("b", events, init_delay=100),
                worker_spec("c", events),
            ],
            name="root",
        )
    )
    await asyncio.sleep(1)  # a has started; b is in its init
    assert events == [("start", "a")]
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert events == [("start", "a"), ("stop", "a")]  # a's terminate ran to its end
    assert whereis("root") is None
    assert whereis("a") is None


class _Layer(GenServer):
    """Records its init returning and its terminate finishing (after an await in each)."""

    async def init(self, label: str, events: Events, steps: int) -> None:
        self.label, self.events = label, events
        for _ in range(steps):
            await asyncio.sleep(0)
        events.append(("start", label))

    async def terminate(self, reason: object) -> None:
        await asyncio.sleep(0)  # a kill would cut it here
        self.events.append(("stop", self.label))


@pytest.mark.parametrize("mode", ["eager", "queued"])
@pytest.mark.parametrize("steps", range(8))
async def test_a_start_cancelled_at_any_loop_step_stops_each_started_child_in_order(
    mode: str, steps: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The step where the supervisor's init returns in the same turn as the cancellation
    # killed every child (their terminate cut at its first await).
    if mode == "queued":
        from otp import _steps

        loop_type = type(asyncio.get_running_loop())
        monkeypatch.setitem(_steps._EAGER_LOOPS, loop_type, False)
    events: Events = []
    specs = [
        _Layer.child_spec(label, events, n, name=label)
        for label, n in (("a", 0), ("b", 1), ("c", 0))
    ]
    starting = asyncio.create_task(Supervisor.start(specs, name="root"))
    for _ in range(steps):
        await asyncio.sleep(0)
    starting.cancel()
    try:
        root = await starting
    except asyncio.CancelledError:
        pass
    else:
        await root.stop()
    started = [label for kind, label in events if kind == "start"]
    stopped = [label for kind, label in events if kind == "stop"]
    assert stopped == started[::-1], events
    assert whereis("root") is None
    assert all(whereis(label) is None for label in "abc")


class StubbornInit(GenServer):
    """Its init ignores cancellation until `release` is set."""

    async def init(self, release: asyncio.Event) -> None:
        await wait_ignoring_cancellation(release)


async def test_a_supervisor_killed_while_a_child_swallows_its_cancellation_stops_the_others_fully(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The supervisor used to be abandoned at the same moment as its stubborn child (both
    # after KILL_GRACE), cutting short the terminate of the children started before it.
    events: Events = []
    release = asyncio.Event()
    specs = [
        worker_spec("a", events, terminate_delay=1),
        StubbornInit.child_spec(release, name="b"),
    ]
    starting = asyncio.create_task(Supervisor.start(specs, name="root"))
    await asyncio.sleep(1)  # a has started; b is in its init
    starting.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await starting
        assert events == [("start", "a"), ("stop", "a")]  # a's terminate ran to its end
        assert "swallowed its CancelledError; abandoning it" in caplog.text
        assert "'root'" not in caplog.text  # the supervisor itself was waited for
        assert whereis("root") is None
    finally:
        release.set()  # (the abandoned b ends its init, and its task with it)
        await asyncio.sleep(0.1)


class SwallowsOnce(GenServer):
    """Its handle_cast swallows the CancelledError of a kill once, then returns."""

    async def handle_cast(self, msg: Any) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)


async def test_a_kill_whose_cancellation_a_callback_swallowed_still_ends_the_process() -> None:
    # It used to stay "stopping" for ever, waiting for a message that would never come.
    process = await SwallowsOnce.start()
    process.cast("work")
    await asyncio.sleep(1)
    process._otp_kill()
    assert await process.wait_exit(1)
    assert process.exit_reason == KILLED
