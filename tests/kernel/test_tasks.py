"""TaskSupervisor conformance: start_child, async_nolink/yield_/shutdown, async_stream.

Modelled on Elixir's Task.Supervisor and Task.async_stream tests. Every test runs on the
fake loop clock (looptime), so the virtual times asserted are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest
from otp import (
    KILLED,
    TIMEOUT,
    Exit,
    GenServer,
    NoProcess,
    Ok,
    Supervisor,
    TaskHandle,
    TaskSupervisor,
)
from otp._genserver import _STARTING
from otp._shutdown import KILL_GRACE

# Every test runs on looptime's fake clock: sleeps and timeouts take no real time and
# loop.time() is exact. A test that hangs fails instead: all its tasks are failed when the
# loop sits idle (nothing ready, nothing scheduled) for 2 real seconds.
pytestmark = pytest.mark.looptime(idle_timeout=2)


class Boom(Exception):
    """The failure the tests provoke."""


@pytest.fixture
async def sup() -> AsyncIterator[TaskSupervisor]:
    supervisor = await TaskSupervisor.start()
    yield supervisor
    if supervisor.alive:
        await supervisor.stop()


def now() -> float:
    return asyncio.get_running_loop().time()


async def nap(seconds: float, result: object = None) -> object:
    await asyncio.sleep(seconds)
    return result


# start_child


async def test_start_child_runs_the_job_in_a_task(sup: TaskSupervisor) -> None:
    done = asyncio.Event()

    async def job(a: int, b: int) -> int:
        done.set()
        return a + b

    task = sup.start_child(job, 2, 3)
    assert isinstance(task, asyncio.Task)
    assert await task == 5
    assert done.is_set()


async def test_a_failing_job_is_logged_and_hurts_neither_the_caller_nor_the_supervisor(
    sup: TaskSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    error = Boom("job failed")

    async def failing() -> None:
        await asyncio.sleep(0)
        raise error

    task = sup.start_child(failing)  # does not raise here
    await asyncio.wait((task,))
    await asyncio.sleep(0)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "failed" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert sup.alive
    assert await sup.start_child(nap, 0, "still works") == "still works"


async def _adds(a: int, b: int) -> int:
    return a + b


def _raises_when_called() -> Awaitable[None]:
    raise Boom("failed before any await")


def _returns_no_awaitable() -> Any:
    return 42


CALL_FAILURES: dict[str, tuple[Callable[..., Any], tuple[Any, ...], type[Exception]]] = {
    "wrong arguments": (_adds, (1,), TypeError),
    "a plain function that raises": (_raises_when_called, (), Boom),
    "no awaitable returned": (_returns_no_awaitable, (), TypeError),
}


@pytest.mark.parametrize("case", list(CALL_FAILURES))
async def test_start_child_never_raises_even_when_calling_the_job_fails(
    sup: TaskSupervisor, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    fn, args, error = CALL_FAILURES[case]

    task = sup.start_child(fn, *args)  # does not raise here
    await asyncio.wait((task,))
    await asyncio.sleep(0)

    failure = task.exception()
    assert isinstance(failure, error)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "failed" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is failure
    assert sup.alive


@pytest.mark.parametrize("case", list(CALL_FAILURES))
async def test_async_nolink_and_async_stream_turn_a_failing_call_into_an_exit(
    sup: TaskSupervisor, case: str
) -> None:
    fn, args, error = CALL_FAILURES[case]

    nolink = await sup.async_nolink(fn, *args).yield_()
    streamed = await collect(sup.async_stream([args], lambda a: fn(*a)))

    for result in (nolink, *streamed):
        assert isinstance(result, Exit)
        assert isinstance(result.reason, error)


async def test_a_cancelled_job_is_not_logged_as_a_failure(
    sup: TaskSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    task = sup.start_child(nap, 100)
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait((task,))
    await asyncio.sleep(0)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# async_nolink, yield_ and shutdown


async def test_yield_returns_ok_with_the_value(sup: TaskSupervisor) -> None:
    handle = sup.async_nolink(nap, 0, "value")
    assert isinstance(handle, TaskHandle)
    assert await handle.yield_() == Ok("value")
    assert await handle.yield_() == Ok("value")  # asking again gives the same answer


async def test_yield_returns_exit_with_the_exception_and_the_caller_is_unharmed(
    sup: TaskSupervisor,
) -> None:
    error = Boom("nolink failed")

    async def failing() -> None:
        raise error

    handle = sup.async_nolink(failing)
    assert await handle.yield_() == Exit(error)
    assert sup.alive


async def test_yield_returns_none_on_timeout_and_the_task_keeps_running(
    sup: TaskSupervisor,
) -> None:
    handle = sup.async_nolink(nap, 10, "late")
    assert await handle.yield_(1) is None
    assert now() == 1
    assert not handle.task.done()
    assert await handle.yield_(20) == Ok("late")
    assert now() == 10


async def test_shutdown_cancels_a_running_task_and_returns_none(sup: TaskSupervisor) -> None:
    cleaned: list[str] = []

    async def long_job() -> None:
        try:
            await asyncio.sleep(100)
        finally:
            cleaned.append("finally ran")

    handle = sup.async_nolink(long_job)
    await asyncio.sleep(1)
    assert await handle.shutdown() is None
    assert handle.task.cancelled()
    assert cleaned == ["finally ran"]
    assert now() == 1
    assert await handle.yield_() == Exit(KILLED)


async def test_shutdown_of_a_finished_task_returns_its_result(sup: TaskSupervisor) -> None:
    handle = sup.async_nolink(nap, 0, "finished")
    await asyncio.wait((handle.task,))
    assert await handle.shutdown() == Ok("finished")
    error = Boom()

    async def failing() -> None:
        raise error

    failed = sup.async_nolink(failing)
    await asyncio.wait((failed.task,))
    assert await failed.shutdown() == Exit(error)


# async_stream


async def collect(stream: AsyncIterator[Ok[Any] | Exit]) -> list[Ok[Any] | Exit]:
    return [result async for result in stream]


async def test_async_stream_yields_in_input_order_even_when_later_items_finish_first(
    sup: TaskSupervisor,
) -> None:
    yielded: list[tuple[float, Ok[Any] | Exit]] = []
    durations = [3, 1, 2, 0.5]
    async for result in sup.async_stream(durations, lambda d: nap(d, d), max_concurrency=4):
        yielded.append((now(), result))
    assert [r for _, r in yielded] == [Ok(3), Ok(1), Ok(2), Ok(0.5)]
    assert [t for t, _ in yielded] == [3, 3, 3, 3]  # all ran at once; the first was slowest


async def test_async_stream_unordered_yields_in_completion_order(sup: TaskSupervisor) -> None:
    yielded: list[tuple[float, Ok[Any] | Exit]] = []
    stream = sup.async_stream([3, 1, 2, 0.5], lambda d: nap(d, d), max_concurrency=4, ordered=False)
    async for result in stream:
        yielded.append((now(), result))
    assert yielded == [(0.5, Ok(0.5)), (1, Ok(1)), (2, Ok(2)), (3, Ok(3))]


@pytest.mark.parametrize("limit", [1, 3, 8])
async def test_async_stream_never_runs_more_than_max_concurrency_at_once(
    sup: TaskSupervisor, limit: int
) -> None:
    running = 0
    most = 0

    async def work(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(1 + n % 4)
        finally:
            running -= 1
        return n

    results = await collect(sup.async_stream(range(30), work, max_concurrency=limit))
    assert results == [Ok(n) for n in range(30)]
    assert most == limit


async def test_async_stream_defaults_to_the_cpu_count_for_concurrency(sup: TaskSupervisor) -> None:
    running = 0
    most = 0

    async def work(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(1)
        running -= 1
        return n

    cpus = os.cpu_count() or 1
    await collect(sup.async_stream(range(cpus * 3), work))
    assert most == cpus


@pytest.mark.parametrize(
    ("bad", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)],
)
async def test_async_stream_rejects_a_max_concurrency_that_is_not_a_positive_int(
    sup: TaskSupervisor, bad: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="max_concurrency must be an int >= 1"):
        await collect(sup.async_stream([1], lambda n: nap(0, n), max_concurrency=bad))  # type: ignore[arg-type]


NAN_TIMEOUTS: dict[str, Callable[[TaskSupervisor], object]] = {
    "yield_": lambda sup: sup.async_nolink(nap, 1).yield_(math.nan),
    "shutdown": lambda sup: sup.async_nolink(nap, 1).shutdown(math.nan),
    "async_stream": lambda sup: sup.async_stream([1], nap, timeout=math.nan),
}


@pytest.mark.parametrize("case", list(NAN_TIMEOUTS))
async def test_a_nan_timeout_raises_a_value_error_naming_it(sup: TaskSupervisor, case: str) -> None:
    # Every comparison with NaN is False: as a deadline in the loop's timer heap it
    # expired at once or never.
    with pytest.raises(
        ValueError, match=r"timeout must be seconds \(an int or float\) or None, got: nan"
    ):
        NAN_TIMEOUTS[case](sup)


async def test_an_item_past_the_timeout_yields_exit_timeout_and_its_task_is_cancelled(
    sup: TaskSupervisor,
) -> None:
    cancelled: list[float] = []

    async def work(seconds: float) -> float:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.append(seconds)
            raise
        return seconds

    yielded = []
    async for result in sup.async_stream([0.5, 10, 1], work, timeout=2, max_concurrency=3):
        yielded.append((now(), result))
    assert yielded == [(0.5, Ok(0.5)), (2, Exit(TIMEOUT)), (2, Ok(1))]
    assert cancelled == [10]


async def swallow_cancellations(release: asyncio.Event) -> None:
    """Wait for `release`, swallowing every cancellation meanwhile (a badly written job)."""
    while not release.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await release.wait()


async def timed_results(
    stream: AsyncGenerator[Ok[Any] | Exit, None], release: asyncio.Event
) -> tuple[list[tuple[float, Ok[Any] | Exit]], float]:
    """(when, result) for each result, and when the stream ended. `release` is set at the
    end, or after 60 s on the fake clock: a hang then fails the test instead."""
    yielded = []
    try:
        async with asyncio.timeout(60), contextlib.aclosing(stream):
            async for result in stream:
                yielded.append((now(), result))
        return yielded, now()
    finally:
        release.set()


def abandoned(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "abandoning" in r.getMessage()]


@pytest.mark.parametrize("ordered", [True, False])
async def test_an_item_swallowing_its_cancellation_times_out_on_time_and_is_abandoned_at_the_end(
    sup: TaskSupervisor, caplog: pytest.LogCaptureFixture, ordered: bool
) -> None:
    release = asyncio.Event()

    async def work(n: float) -> float:
        if n == 0:
            await swallow_cancellations(release)
        await asyncio.sleep(n)
        return n

    # Items 0 and 1 start at once, item 2.5 when item 1 is done (at 1).
    stream = sup.async_stream([0, 1, 2.5], work, timeout=3, max_concurrency=2, ordered=ordered)
    yielded, ended = await timed_results(stream, release)
    if ordered:
        assert yielded == [(3, Exit(TIMEOUT)), (3, Ok(1)), (3.5, Ok(2.5))]
    else:
        assert yielded == [(1, Ok(1)), (3, Exit(TIMEOUT)), (3.5, Ok(2.5))]
    # The stream ends once its tasks have: the swallowing one is given the grace, then
    # logged and abandoned.
    assert ended == 3 + KILL_GRACE
    [message] = abandoned(caplog)
    assert "work" in message


async def test_a_timed_out_item_holds_its_slot_until_its_task_has_exited(
    sup: TaskSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    started: list[tuple[int, float]] = []

    async def work(n: int) -> int:
        started.append((n, now()))
        if n == 0:
            try:
                await asyncio.sleep(100)
            finally:
                await asyncio.sleep(1)  # a slow cleanup: the item ends at 3
        if n == 1:
            await swallow_cancellations(release)  # timed out at 5, abandoned at 5 + grace
        return n

    stream = sup.async_stream(range(3), work, timeout=2, max_concurrency=1)
    yielded, ended = await timed_results(stream, release)
    assert yielded == [(2, Exit(TIMEOUT)), (5, Exit(TIMEOUT)), (5 + KILL_GRACE, Ok(2))]
    assert started == [(0, 0), (1, 3), (2, 5 + KILL_GRACE)]
    assert ended == 5 + KILL_GRACE
    assert len(abandoned(caplog)) == 1


async def test_leaving_a_stream_at_a_timed_out_item_lets_its_task_finish_its_cleanup(
    sup: TaskSupervisor,
) -> None:
    cleaned: list[float] = []

    async def work(n: int) -> int:
        try:
            await asyncio.sleep(100)
        finally:
            await asyncio.sleep(1)  # a slow cleanup, not to be cut short by a 2nd cancel
            cleaned.append(now())
        return n

    async with contextlib.aclosing(sup.async_stream([0], work, timeout=2)) as stream:
        async for result in stream:
            assert result == Exit(TIMEOUT)
            assert now() == 2
            break
    assert cleaned == [3]


async def test_the_timeout_counts_per_item_from_when_it_starts(sup: TaskSupervisor) -> None:
    # One at a time, each item takes 1.5s: the total (6s) is far past the 2s timeout,
    # but no single item is.
    results = await collect(
        sup.async_stream(range(4), lambda n: nap(1.5, n), timeout=2, max_concurrency=1)
    )
    assert results == [Ok(n) for n in range(4)]
    assert now() == 6


async def test_a_failing_item_yields_exit_with_its_exception_and_the_rest_continue(
    sup: TaskSupervisor,
) -> None:
    errors = {2: Boom("two"), 4: Boom("four")}

    async def work(n: int) -> int:
        await asyncio.sleep(0)
        if n in errors:
            raise errors[n]
        return n * 10

    results = await collect(sup.async_stream(range(6), work, max_concurrency=2))
    assert results == [Ok(0), Ok(10), Exit(errors[2]), Ok(30), Exit(errors[4]), Ok(50)]


async def test_async_stream_accepts_an_async_iterable(sup: TaskSupervisor) -> None:
    async def source() -> AsyncIterator[int]:
        for n in range(5):
            await asyncio.sleep(0.1)
            yield n

    results = await collect(sup.async_stream(source(), lambda n: nap(1, n * n), max_concurrency=2))
    assert results == [Ok(n * n) for n in range(5)]


async def test_async_stream_of_no_items_yields_nothing(sup: TaskSupervisor) -> None:
    assert await collect(sup.async_stream([], lambda n: nap(0, n))) == []


async def test_stopping_early_inside_aclosing_cancels_and_awaits_the_running_tasks(
    sup: TaskSupervisor,
) -> None:
    started: list[int] = []
    finished: list[int] = []

    async def work(n: int) -> int:
        started.append(n)
        try:
            await asyncio.sleep(1 + n)
        finally:
            finished.append(n)
        return n

    before = set(asyncio.all_tasks())
    async with contextlib.aclosing(sup.async_stream(range(100), work, max_concurrency=4)) as stream:
        async for result in stream:
            assert result == Ok(0)
            break
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    assert started[:4] == [0, 1, 2, 3]
    assert len(started) <= 5  # at most item 4 took the place of item 0
    assert sorted(finished) == started  # every started task ended, the rest cancelled
    assert now() == 1


async def test_a_stream_left_by_break_without_aclosing_cancels_its_tasks_in_that_step(
    sup: TaskSupervisor,
) -> None:
    tasks: list[asyncio.Task[Any]] = []
    finished: list[int] = []

    async def work(n: int) -> int:
        tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await asyncio.sleep(1 + 10 * n)
        finally:
            finished.append(n)
        return n

    async for result in sup.async_stream(range(10), work, max_concurrency=3, timeout=None):
        assert result == Ok(0)
        break
    # The abandoned generator was collected at the break: its tasks are cancelled already.
    assert [t.cancelling() or t.done() for t in tasks] == [True, True, True]

    for _ in range(5):
        await asyncio.sleep(0)
    assert sorted(finished) == [0, 1, 2]
    assert now() == 1


async def test_an_abandoned_stream_still_referenced_has_its_tasks_cancelled_on_stop() -> None:
    sup = await TaskSupervisor.start()
    finished: list[int] = []

    async def work(n: int) -> int:
        try:
            await asyncio.sleep(1 + 10 * n)
        finally:
            finished.append(n)
        return n

    stream = sup.async_stream(range(10), work, max_concurrency=3, timeout=None)
    async for result in stream:
        assert result == Ok(0)
        break
    await asyncio.sleep(1)
    assert finished == [0]  # the stream is alive: its tasks run on
    await sup.stop()
    assert sorted(finished) == [0, 1, 2]
    assert now() == 2
    await stream.aclose()


# Stopping the supervisor


async def test_stopping_the_supervisor_cancels_its_running_tasks_and_their_finally_runs() -> None:
    sup = await TaskSupervisor.start(name="jobs")
    cleaned: list[str] = []

    async def forever(label: str) -> None:
        try:
            await asyncio.sleep(1000)
        finally:
            cleaned.append(label)

    fire_and_forget = sup.start_child(forever, "child")
    handle = sup.async_nolink(forever, "nolink")
    await asyncio.sleep(1)
    await sup.stop()
    assert sorted(cleaned) == ["child", "nolink"]
    assert fire_and_forget.cancelled()
    assert await handle.yield_() == Exit(KILLED)
    assert now() == 1


async def test_starting_work_on_a_stopped_supervisor_raises_no_process_and_calls_nothing() -> None:
    sup = await TaskSupervisor.start()
    await sup.stop()
    made: list[Coroutine[Any, Any, object]] = []

    def job() -> Coroutine[Any, Any, object]:
        coro = nap(0)
        made.append(coro)
        return coro

    with pytest.raises(NoProcess):
        sup.start_child(job)
    with pytest.raises(NoProcess):
        sup.async_nolink(job)
    with pytest.raises(NoProcess):
        await collect(sup.async_stream([1], lambda _: job()))
    assert made == []  # fn is called inside the task: no coroutine is left never awaited


async def test_a_stream_fails_with_no_process_when_its_supervisor_stops_midway() -> None:
    sup = await TaskSupervisor.start()
    cleaned: list[int] = []

    async def work(n: int) -> int:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append(n)
        return n

    async def consume() -> list[Ok[Any] | Exit]:
        return await collect(sup.async_stream(range(10), work, max_concurrency=2))

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(1)
    await sup.stop()
    with pytest.raises(NoProcess):
        await consumer
    assert sorted(cleaned) == [0, 1]  # the running items were killed; no more were started


# Killing the supervisor


def cancel_its_task(victim: GenServer) -> None:
    assert victim._otp_task is not None
    victim._otp_task.cancel()


# How a TaskSupervisor is killed: its task cancelled (a TaskGroup, asyncio.run's
# shutdown), the kernel's kill, or its parent killed (which kills its children).
KILLS: dict[str, Callable[[GenServer], None]] = {
    "its task cancelled": cancel_its_task,
    "_otp_kill": GenServer._otp_kill,
    "its parent killed": GenServer._otp_kill,
}


async def start_killable(how: str) -> tuple[TaskSupervisor, GenServer]:
    """A TaskSupervisor named "jobs" and the process to kill: itself or its parent."""
    if how != "its parent killed":
        sup = await TaskSupervisor.start(name="jobs")
        return sup, sup
    parent = await Supervisor.start([TaskSupervisor.child_spec(name="jobs")])
    child = TaskSupervisor.whereis("jobs")
    assert child is not None
    return child, parent


async def kill(how: str, victim: GenServer) -> None:
    KILLS[how](victim)
    await victim.wait_exit()


@pytest.mark.parametrize("how", list(KILLS))
async def test_a_killed_supervisor_exits_only_once_its_tasks_finished_their_cleanup(
    how: str,
) -> None:
    sup, victim = await start_killable(how)
    cleaned: list[int] = []

    async def job(n: int) -> None:
        try:
            await asyncio.sleep(1000)
        finally:
            await asyncio.sleep(1)  # a cleanup that takes time, as closing a connection
            cleaned.append(n)

    tasks = [sup.start_child(job, n) for n in range(3)]
    handle = sup.async_nolink(job, 3)
    await asyncio.sleep(1)
    await kill(how, victim)
    assert not sup.alive
    assert sorted(cleaned) == [0, 1, 2, 3]
    assert all(t.cancelled() for t in tasks)
    assert await handle.yield_(0) == Exit(KILLED)
    assert now() == 2


@pytest.mark.parametrize("how", list(KILLS))
async def test_a_killed_supervisor_abandons_a_task_swallowing_its_cancellation_after_the_grace(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    sup, victim = await start_killable(how)
    release = asyncio.Event()
    cleaned: list[str] = []

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    async def polite() -> None:
        try:
            await asyncio.sleep(1000)
        finally:
            cleaned.append("polite")

    stuck = sup.start_child(stubborn)
    sup.start_child(polite)
    await asyncio.sleep(1)
    try:
        async with asyncio.timeout(60):
            await kill(how, victim)
    finally:
        release.set()
    assert now() == 1 + KILL_GRACE
    assert cleaned == ["polite"]
    abandoned = [r.getMessage() for r in caplog.records if "abandoning" in r.getMessage()]
    assert len([m for m in abandoned if "stubborn" in m]) == 1
    await stuck


# Found by name while it starts, and the start fails


class FailingInit(TaskSupervisor):
    """A TaskSupervisor whose init fails a second in."""

    async def init(self) -> None:
        await asyncio.sleep(1)
        raise Boom("init failed")


async def starting(cls: type[TaskSupervisor]) -> tuple[asyncio.Task[Any], TaskSupervisor]:
    """Start `cls` as "jobs" in a task; return once the name is registered, init not
    returned: what a client finds just after a parent restarted it."""
    start = asyncio.create_task(cls.start(name="jobs"))
    await asyncio.sleep(0)
    found = cls.whereis("jobs")
    assert found is not None
    assert found._otp_state is _STARTING
    return start, found


async def job_of(ran: list[str], label: str) -> None:
    ran.append(label)
    await asyncio.sleep(1000)


def give_jobs(sup: TaskSupervisor, ran: list[str]) -> list[asyncio.Task[Any]]:
    """A job by start_child and one by async_nolink; neither may raise here."""
    return [sup.start_child(job_of, ran, "child"), sup.async_nolink(job_of, ran, "nolink").task]


@pytest.mark.parametrize("failure", ["init raises", "killed during init"])
async def test_jobs_given_to_a_supervisor_whose_init_then_fails_never_run(
    caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    start, found = await starting(FailingInit)
    ran: list[str] = []
    stream = found.async_stream(["stream"], lambda label: job_of(ran, label), timeout=None)
    consumer = asyncio.create_task(collect(stream))
    await asyncio.sleep(0)  # the stream started its task
    tasks = give_jobs(found, ran)
    if failure == "killed during init":
        found._otp_kill()
    with pytest.raises(Boom if failure == "init raises" else NoProcess):
        await start
    await asyncio.wait([*tasks, consumer])
    assert ran == []  # as OTP's start_child call to a process dying in its init fails
    assert now() == (1 if failure == "init raises" else 0)
    for task in tasks:
        assert isinstance(task.exception(), NoProcess)
    [streamed] = consumer.result()
    assert isinstance(streamed, Exit)
    assert isinstance(streamed.reason, NoProcess)
    [record] = [r for r in caplog.records if "failed" in r.getMessage()]  # the start_child
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], NoProcess)


@pytest.mark.usefixtures("queued_starts")
async def test_jobs_given_to_a_supervisor_killed_before_its_first_step_never_run() -> None:
    start, found = await starting(TaskSupervisor)
    ran: list[str] = []
    tasks = give_jobs(found, ran)
    found._otp_kill()
    with pytest.raises(NoProcess):
        await start
    await asyncio.wait(tasks)
    assert ran == []
    assert all(isinstance(task.exception(), NoProcess) for task in tasks)


async def test_jobs_given_to_a_supervisor_in_its_init_run_once_it_has_returned() -> None:
    class SlowInit(TaskSupervisor):
        async def init(self) -> None:
            await asyncio.sleep(1)

    start, found = await starting(SlowInit)
    ran: list[tuple[str, float]] = []

    async def job(label: str) -> str:
        ran.append((label, now()))
        return label

    fire = found.start_child(job, "child")
    handle = found.async_nolink(job, "nolink")
    sup = await start
    assert await fire == "child"
    assert await handle.yield_() == Ok("nolink")
    assert ran == [("child", 1), ("nolink", 1)]
    await sup.stop()
