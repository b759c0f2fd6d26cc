"""TaskSupervisor: one-off async work that is owned, bounded and cleaned up."""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Self, TypeVar

from ._childspec import SUPERVISOR, ChildType
from ._deadlines import _state_of
from ._errors import NoProcess, check_seconds
from ._genserver import _STARTING, GenServer
from ._messages import Caller, task_exit_reason
from ._shutdown import KILL_GRACE

log = logging.getLogger(__package__ or "otp")

T = TypeVar("T")
R = TypeVar("R")

TIMEOUT: Final = "timeout"
"""The exit reason of a task `async_stream` cancelled for running past its timeout."""

_UP: Final = object()  # a call that is answered once init has returned


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    """A task's result: it returned `value`."""

    value: T


@dataclass(frozen=True, slots=True)
class Exit:
    """A task's failure: an exception (`reason`), cancelled (KILLED) or TIMEOUT."""

    reason: object


def _outcome(task: asyncio.Task[T]) -> Ok[T] | Exit:
    if not task.cancelled() and task.exception() is None:
        return Ok(task.result())
    return Exit(task_exit_reason(task))


class TaskHandle(Generic[T]):
    """A task started with `async_nolink`; ask for its result with `yield_`."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Task[T]) -> None:
        self.task = task

    # yield_ and shutdown are plain `def`s returning the coroutine to await, so that no
    # linter's "async function with a timeout parameter" rule applies to them.

    def yield_(self, timeout: float | None = 5.0) -> Coroutine[Any, Any, Ok[T] | Exit | None]:
        """Wait up to `timeout` s: Ok(value), Exit(reason), or None if still running.

        The task keeps running after None; ask again or `shutdown()` it.
        """
        _check_timeout(timeout)
        return self._yield(timeout)

    async def _yield(self, seconds: float | None) -> Ok[T] | Exit | None:
        task = self.task
        if not task.done():
            await asyncio.wait((task,), timeout=seconds)
            if not task.done():
                return None
        return _outcome(task)

    def shutdown(self, timeout: float | None = 5.0) -> Coroutine[Any, Any, Ok[T] | Exit | None]:
        """Cancel the task, wait for it: its result if it finished first, else None."""
        _check_timeout(timeout)
        return self._shutdown(timeout)

    async def _shutdown(self, seconds: float | None) -> Ok[T] | Exit | None:
        task = self.task
        if not task.done():
            task.cancel()
            await asyncio.wait((task,), timeout=seconds)
            if not task.done() or task.cancelled():
                return None
        return _outcome(task)


class TaskSupervisor(GenServer):
    """Runs one-off async work under supervision: background jobs, fan-out, deadlines.

    Use it for work with no state that outlives it. `start_child` runs a job fire and
    forget (a failure is logged and hurts nobody); `async_nolink` runs one whose result
    you want, with `yield_(timeout)` and `shutdown()`; `async_stream` maps a function
    over many items with bounded concurrency and a per-item timeout. When the supervisor
    stops, its running tasks are cancelled (their `finally` blocks run) and awaited.

    Do not use it for long-lived state (a GenServer) or for work that must survive a
    restart of the service (a persistent job queue).
    """

    __slots__ = ("_tasks",)

    child_type: ClassVar[ChildType] = SUPERVISOR

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Self:
        """`TaskSupervisor.start(name=None)`."""
        return await super().start(*args, **kwargs)

    def __init__(self) -> None:
        super().__init__()
        # Set before init: a TaskSupervisor found by name while it starts takes work at
        # once (to run once init has returned: see _call_when_up).
        self._tasks: set[asyncio.Task[Any]] = set()
        _state_of(self._otp_loop).supervisors.add(self)  # (for the observer's roots)

    async def init(self) -> None:
        return None

    # Client API

    def start_child(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> asyncio.Task[Any]:
        """Run `fn(*args)` in a new task now and return the task.

        Fire and forget: `fn(*args)` is called inside the task, so any failure of the
        job, even one before its first await (wrong arguments, a plain function that
        raises), is the task's outcome and is logged as a crash, never raised here. Only
        a stopped supervisor raises (NoProcess).

        A supervisor found by name while it starts takes the job at once and runs it
        once its `init` has returned; if its start fails the job never runs and its task
        ends with NoProcess (as OTP's start_child call to it would fail).
        """
        task = self._otp_spawn(fn, args)
        task.add_done_callback(self._otp_log_failure)
        return task

    def async_nolink(self, fn: Callable[..., Awaitable[T]], *args: Any) -> TaskHandle[T]:
        """Run `fn(*args)` in a new task and return a handle to collect its result (any
        failure of the call, as of the job, is the task's Exit)."""
        return TaskHandle(self._otp_spawn(fn, args))

    def async_stream(
        self,
        items: Iterable[T] | AsyncIterable[T],
        fn: Callable[[T], Awaitable[R]],
        *,
        max_concurrency: int | None = None,
        timeout: float | None = 5.0,
        ordered: bool = True,
    ) -> AsyncGenerator[Ok[R] | Exit, None]:
        """Run `fn(item)` for every item, at most `max_concurrency` at once (default:
        the CPU count), yielding Ok(value) or Exit(reason) per item, in input order
        unless `ordered=False`. A task running longer than `timeout` seconds is
        cancelled and its item yields Exit(TIMEOUT) then, without waiting for the
        cancellation to land. Its task keeps its place among the `max_concurrency` until
        it has exited; one that swallows its cancellation is logged and abandoned
        KILL_GRACE (5) seconds later. The stream ends once all its tasks have exited.

        Consume it inside `contextlib.aclosing(...)` whenever you may stop early:
        leaving the block, by `break`, `return` or an exception, cancels the tasks still
        running and waits for them to exit.

            async with contextlib.aclosing(jobs.async_stream(urls, fetch)) as results:
                async for result in results:
                    if isinstance(result, Exit):
                        break  # the fetches still running are cancelled here

        Without `aclosing`, a stream left by `break` cancels its tasks only once it is
        garbage collected (at once in CPython when nothing else refers to it; a stream
        kept in a variable runs on until the variable goes) or when the supervisor
        stops.
        """
        _check_callable(fn)
        _check_timeout(timeout)
        limit = max_concurrency if max_concurrency is not None else os.cpu_count() or 1
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"max_concurrency must be an int >= 1, got: {max_concurrency!r}")
        if limit < 1:
            raise ValueError(f"max_concurrency must be an int >= 1, got: {max_concurrency!r}")
        running: dict[asyncio.Task[R], tuple[int, asyncio.TimerHandle | None]] = {}
        stream = self._stream(items, fn, limit, timeout, ordered, running)
        # The stream's owner of last resort: when the abandoned generator is collected,
        # cancel its tasks in that very step. (asyncio also schedules its `aclose()`,
        # whose `finally` then waits for them.)
        weakref.finalize(stream, _cancel_all, running).atexit = False
        return stream

    async def _stream(
        self,
        items: Iterable[T] | AsyncIterable[T],
        fn: Callable[[T], Awaitable[R]],
        limit: int,
        item_timeout: float | None,
        ordered: bool,
        running: dict[asyncio.Task[R], tuple[int, asyncio.TimerHandle | None]],
    ) -> AsyncGenerator[Ok[R] | Exit, None]:
        # `running` holds the tasks that take a slot, each with its item's index and its
        # timer: the item's timeout, then, once it has expired, the grace its task gets
        # to exit. A timed-out item's result is Exit(TIMEOUT) at once; its task keeps
        # its slot until it has exited or is abandoned.
        loop = asyncio.get_running_loop()
        source: AsyncIterator[T] | None = None
        plain: Iterator[T] | None = None
        if isinstance(items, AsyncIterable):
            source = aiter(items)
        else:
            plain = iter(items)
        expired: set[asyncio.Task[R]] = set()
        results: deque[tuple[int, Ok[R] | Exit]] = deque()
        wakeup: list[asyncio.Future[None]] = []
        buffered: dict[int, Ok[R] | Exit] = {}
        next_index = 0
        emitted = 0
        exhausted = False

        def wake() -> None:
            if wakeup and not wakeup[0].done():
                wakeup[0].set_result(None)

        def on_done(task: asyncio.Task[R]) -> None:
            index, timer = running.pop(task)
            if timer is not None:
                timer.cancel()
            if task in expired:
                expired.discard(task)  # (its Exit(TIMEOUT) is out already)
            else:
                results.append((index, _outcome(task)))
            wake()

        def expire(task: asyncio.Task[R]) -> None:
            if task.done():
                return  # (on_done, already scheduled, has its outcome)
            # Not waiting for the cancellation to land: a task that swallows it would
            # hold up its item, and in order every later one, for good.
            index, _ = running[task]
            running[task] = (index, loop.call_later(KILL_GRACE, abandon, task))
            expired.add(task)
            task.cancel()
            results.append((index, Exit(TIMEOUT)))
            wake()

        def abandon(task: asyncio.Task[R]) -> None:
            if task.done():
                return
            task.remove_done_callback(on_done)
            del running[task]
            expired.discard(task)
            _log_abandoned(self, task)
            wake()

        try:
            while True:
                while not exhausted and len(running) < limit:
                    try:
                        if source is not None:
                            item = await anext(source)
                        else:
                            assert plain is not None
                            item = next(plain)
                    except (StopIteration, StopAsyncIteration):
                        exhausted = True
                        break
                    task = self._otp_spawn(fn, (item,))
                    timer = (
                        None
                        if item_timeout is None
                        else loop.call_later(item_timeout, expire, task)
                    )
                    running[task] = (next_index, timer)
                    next_index += 1
                    task.add_done_callback(on_done)
                if not running and not results:
                    return
                if not results:
                    # (woken by a result, or by a slot set free)
                    waiter = loop.create_future()
                    wakeup[:] = [waiter]
                    await waiter
                while results:
                    index, result = results.popleft()
                    if not ordered:
                        yield result
                        continue
                    buffered[index] = result
                    while emitted in buffered:
                        yield buffered.pop(emitted)
                        emitted += 1
        finally:
            _cancel_all(running)
            if running:
                await _wait_cancelled(self, running)

    # Server callbacks

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request is _UP:
            return None
        return await super().handle_call(request, caller)

    async def terminate(self, reason: object) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        try:
            await _wait_cancelled(self, tasks)
        except asyncio.CancelledError:
            # Killed (on a kill the first await here raises: see GenServer.terminate).
            # Still exit only once the tasks have, as a killed Supervisor does: their
            # `finally` blocks run first, and whoever restarts us finds their resources
            # free. Bounded: a task swallowing its cancellation is abandoned.
            await _wait_cancelled(self, tasks)
            raise

    # Internals

    def _otp_spawn(self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> asyncio.Task[T]:
        _check_callable(fn)
        if not self._otp_accepting():
            raise NoProcess(f"{self!r} is not running")
        # Named after the job: the task runs `_call`, and its repr in logs should say
        # what.
        name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        # (found by name while it starts, init not returned yet: see _call_when_up)
        starting = self._otp_state is _STARTING
        job = _call_when_up(self, fn, args) if starting else _call(fn, args)
        task: asyncio.Task[T] = self._otp_loop.create_task(job, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _otp_log_failure(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%r: task %r failed", self, task, exc_info=task.exception())


async def _call(fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
    """`await fn(*args)`, run as the task itself: even the call failing (bad arguments,
    a plain function that raises or returns no awaitable) is the task's outcome."""
    return await fn(*args)


async def _call_when_up(
    owner: TaskSupervisor, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
) -> T:
    """`_call` for a job given to a supervisor still in its init (found by name while
    it starts): the job runs once init has returned, as OTP answers a start_child call
    then. If the start fails, it never runs (NoProcess): `terminate`, which stops the
    tasks, runs only after an init that returned, so it would run on unsupervised."""
    try:
        await owner.call(_UP, timeout=None)
    except NoProcess as exc:
        raise NoProcess(f"{owner!r} failed to start; the job did not run", exc.reason) from None
    return await fn(*args)


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be a callable returning an awaitable, got: {fn!r}")


def _check_timeout(timeout: object) -> None:
    """Seconds or None. A timeout <= 0 has expired already (as asyncio's)."""
    check_seconds("timeout", timeout)


def _cancel_all(running: dict[asyncio.Task[Any], tuple[int, asyncio.TimerHandle | None]]) -> None:
    """Cancel a stream's running tasks and their timers (timeouts and graces)."""
    for task, (_, timer) in running.items():
        if timer is not None:
            timer.cancel()
        # (not twice: a timed-out task may be in its cleanup, which a second
        # cancellation would cut short)
        if not task.cancelling():
            task.cancel()


async def _wait_cancelled(owner: TaskSupervisor, tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Wait for cancelled tasks; after KILL_GRACE seconds abandon (and log) the ones
    still running: they swallowed their CancelledError, and must not wedge the tree."""
    _, stuck = await asyncio.wait(tasks, timeout=KILL_GRACE)
    for task in stuck:
        _log_abandoned(owner, task)


def _log_abandoned(owner: TaskSupervisor, task: asyncio.Task[Any]) -> None:
    log.error(
        "%r: task %r still runs %ss after it was cancelled: it swallowed its "
        "CancelledError; abandoning it and going on",
        owner,
        task,
        KILL_GRACE,
    )
