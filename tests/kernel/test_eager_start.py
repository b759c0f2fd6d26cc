"""Eager starts: on asyncio's own loops `start` takes the new process's first step itself.

What users can observe must not change with it: `init` runs as the process (its task,
its context), a process started this way dies as any running process does, and a start
that cannot be eager (another loop, a task factory) waits for the loop's next turn.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from helpers import Worker
from otp import (
    KILLED,
    SHUTDOWN,
    CallingSelf,
    GenServer,
    NoProcess,
    Supervisor,
    _steps,
    whereis,
)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Recorder(GenServer):
    """Records what its init sees."""

    async def init(self, seen: list[Any], *, set_var: bool = False) -> None:
        seen.append(("task", asyncio.current_task()))
        seen.append(("request_id", request_id.get()))
        if set_var:
            request_id.set("set by init")


async def test_init_runs_as_the_new_process_and_the_starter_is_itself_again_after() -> None:
    starter = asyncio.current_task()
    seen: list[Any] = []
    process = await Recorder.start(seen)
    assert dict(seen)["task"] is process._otp_task
    assert process._otp_task is not starter
    assert asyncio.current_task() is starter
    await process.stop()


async def test_init_sees_the_starters_context_and_its_changes_stay_in_the_process() -> None:
    token = request_id.set("req-1")
    try:
        seen: list[Any] = []
        process = await Recorder.start(seen, set_var=True)
        assert dict(seen)["request_id"] == "req-1"
        assert request_id.get() == "req-1"  # init's set did not leak into the starter
        await process.stop()
    finally:
        request_id.reset(token)


async def test_a_call_to_itself_from_init_raises_calling_self() -> None:
    class SelfCaller(GenServer):
        async def init(self) -> None:
            await self.call("hello")

    with pytest.raises(CallingSelf):
        await SelfCaller.start()


class Failing(GenServer):
    async def init(self) -> None:
        1 / 0  # noqa: B018


async def test_init_raising_without_suspending_raises_from_start_and_leaves_nothing() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        tasks_before = set(asyncio.all_tasks())
        with pytest.raises(ZeroDivisionError):
            await Failing.start(name="failing")
        assert whereis("failing") is None
        await asyncio.sleep(0)
        assert {t for t in asyncio.all_tasks() - tasks_before if not t.done()} == set()
    finally:
        loop.set_exception_handler(None)
    assert reported == []


async def test_a_timeout_in_an_init_that_suspends_expires_init_not_the_starter() -> None:
    class Slow(GenServer):
        async def init(self) -> None:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)

    with pytest.raises(TimeoutError):
        await Slow.start(name="slow")
    starter = asyncio.current_task()
    assert starter is not None
    assert starter.cancelling() == 0
    assert whereis("slow") is None


async def test_a_process_stopped_in_the_step_that_started_it_terminates_with_the_reason() -> None:
    worker = await Worker.start("w")
    worker._otp_request_stop(SHUTDOWN)  # before its task has been back on the loop
    await worker.wait_exit()
    assert worker.terminated_with == SHUTDOWN


async def test_a_process_killed_right_after_start_terminates_killed() -> None:
    worker = await Worker.start("w", name="w")
    worker._otp_kill()
    await worker.wait_exit()
    assert worker.exit_reason == KILLED
    assert worker.terminated_with == KILLED
    assert whereis("w") is None


async def test_children_started_by_a_supervisors_init_each_run_init_as_themselves() -> None:
    seen_a: list[Any] = []
    seen_b: list[Any] = []
    sup = await Supervisor.start(
        [
            Recorder.child_spec(seen_a, name="a"),
            Recorder.child_spec(seen_b, name="b"),
        ]
    )
    a, b = whereis("a"), whereis("b")
    assert a is not None
    assert b is not None
    assert dict(seen_a)["task"] is a._otp_task
    assert dict(seen_b)["task"] is b._otp_task
    assert sup._otp_task not in (a._otp_task, b._otp_task)
    await sup.stop()


async def test_a_cancelled_start_whose_init_suspends_kills_the_half_started_process() -> None:
    class Waits(GenServer):
        async def init(self) -> None:
            await asyncio.sleep(10)

    starter = asyncio.create_task(Waits.start(name="waits"))
    await asyncio.sleep(0)
    half = whereis("waits")
    assert half is not None
    starter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starter
    assert not half.alive
    assert whereis("waits") is None


async def count_turns_to_start() -> int:
    loop = asyncio.get_running_loop()
    turns = 0

    def tick() -> None:
        nonlocal turns
        turns += 1
        ticker[0] = loop.call_soon(tick)

    ticker = [loop.call_soon(tick)]
    try:
        process = await GenServer.start()
        taken = turns
    finally:
        ticker[0].cancel()
    await process.stop()
    return taken


async def test_a_loop_with_a_task_factory_gets_queued_starts() -> None:
    loop = asyncio.get_running_loop()
    made: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    try:
        assert await count_turns_to_start() == 1
    finally:
        loop.set_task_factory(None)
    assert made


async def test_a_loop_in_debug_mode_still_gets_eager_starts() -> None:
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(True)
    try:
        assert await count_turns_to_start() == 0
    finally:
        loop.set_debug(debug)


def test_a_loop_class_that_queues_callbacks_its_own_way_gets_queued_starts() -> None:
    class OwnQueue(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
        def call_soon(self, *args: Any, **kwargs: Any) -> asyncio.Handle:
            return super().call_soon(*args, **kwargs)

    assert not _steps._steps_like_asyncio(OwnQueue)
    assert _steps._steps_like_asyncio(asyncio.SelectorEventLoop)  # type: ignore[arg-type]
    loop = OwnQueue()
    try:
        assert loop.run_until_complete(count_turns_to_start()) == 1
    finally:
        loop.close()


async def test_a_kill_before_the_first_step_of_a_queued_start_fails_it() -> None:
    # The same start on a loop that cannot take the step at once (see test_hangs).
    loop = asyncio.get_running_loop()
    _steps._EAGER_LOOPS[type(loop)] = False
    try:

        def kill() -> None:
            process = whereis("early")
            assert process is not None
            process._otp_kill()

        loop.call_soon(kill)
        with pytest.raises(NoProcess):
            await Worker.start("early", name="early")
    finally:
        del _steps._EAGER_LOOPS[type(loop)]
    assert whereis("early") is None


async def test_a_thousand_inits_each_starting_the_next_do_not_exhaust_the_stack() -> None:
    started: list[GenServer] = []

    class Link(GenServer):
        async def init(self, left: int) -> None:
            started.append(self)
            if left:
                await Link.start(left - 1)

    await Link.start(1000)
    assert len(started) == 1001
    for process in reversed(started):
        await process.stop()
