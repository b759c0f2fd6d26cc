"""GenServer: a process that owns state and handles one message at a time.

A process is an asyncio task running a receive loop over its own mailbox. Clients talk
to it with `call` (request and reply), `cast` (fire and forget) and `send` (a plain
message for `handle_info`). Everything the process does runs in its own task, in
arrival order, so its state needs no locks.

Python is not the BEAM: there is no preemption (a handler that never awaits blocks
every process), memory is shared (messages are not copied, so send immutable data or
data you hand over), and a "kill" is a task cancellation, which runs `finally` blocks.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import weakref
from collections import deque
from collections.abc import Awaitable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self

from ._childspec import PERMANENT, WORKER, ChildSpec, ChildType, Restart
from ._errors import AlreadyStarted, CallingSelf, CallTimeout, NoProcess
from ._reports import traceback_or_repeat

if TYPE_CHECKING:
    from ._registry import Via

log = logging.getLogger(__package__ or "otp")

# Exit reasons. Any other object (usually the exception that ended the process) is a crash.
NORMAL: Final = "normal"
"""The process finished its work: not a crash, a transient child is not restarted."""
SHUTDOWN: Final = "shutdown"
"""Stopped by its supervisor (or `stop(SHUTDOWN)`): an orderly exit, not a crash."""
KILLED: Final = "killed"
"""Cancelled: a brutal kill, a shutdown budget that ran out, or an outside cancellation."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """An orderly exit that carries a detail, like Erlang's `{shutdown, Term}`: not a crash."""

    detail: object


def is_normal(reason: object) -> bool:
    """Whether `reason` is an orderly exit (normal, shutdown, Shutdown(...)), not a crash.

    A transient child is restarted only when this is false.
    """
    return reason in (NORMAL, SHUTDOWN) or type(reason) is Shutdown


# What a callback may return to steer the loop.


@dataclass(frozen=True, slots=True)
class Continue:
    """Return it from `init` or a handler: `handle_continue(arg)` runs before any message."""

    arg: object


@dataclass(frozen=True, slots=True)
class Stop:
    """Return it from a handler to stop the process with `reason` after this message.

    Returned from `handle_call` it sends no reply: the caller fails with NoProcess once
    the process has exited. To answer first, return `Reply(value, Stop(reason))`.
    """

    reason: object = NORMAL


@dataclass(frozen=True, slots=True)
class Reply:
    """Return it from `handle_call` to reply `value` and then continue or stop."""

    value: object
    then: Continue | Stop | None = None


class NoReply:
    """The type of NOREPLY, for annotations: `-> int | NoReply`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOREPLY"


NOREPLY: Final = NoReply()
"""Return it from `handle_call` to answer later with `caller.reply(value)`."""


class Caller:
    """A pending call: who asked, and how to answer.

    `task` is the calling task; monitor it (`self.monitor(caller.task)`) to learn when a
    caller that holds a resource dies.
    """

    __slots__ = ("_future", "task")

    def __init__(self, future: asyncio.Future[Any], task: asyncio.Task[Any] | None) -> None:
        self._future = future
        self.task = task

    def reply(self, value: object) -> None:
        """Answer the call. A caller that already timed out or was cancelled gets nothing."""
        if not self._future.done():
            self._future.set_result(value)

    def fail(self, error: Exception) -> None:
        """Answer the call with an error: the caller's `call` raises `error`.

        For requests that are the caller's fault (a bad argument, a missing key), so the
        server answers instead of crashing. From `handle_call`, return NOREPLY after it.
        """
        self._fail(error)

    def _fail(self, error: BaseException) -> None:
        if not self._future.done():
            self._future.set_exception(error)

    @property
    def waiting(self) -> bool:
        """Whether the caller still waits for the reply (it has not timed out or gone)."""
        return not self._future.done()


class _State(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    EXITING = "exiting"  # terminate() is running; new calls fail
    EXITED = "exited"


_STARTING: Final = _State.STARTING
_RUNNING: Final = _State.RUNNING
_EXITING: Final = _State.EXITING
_EXITED: Final = _State.EXITED

_STEERING: Final = (Reply, Stop)

# Mailbox entries are (kind, payload, caller) tuples.
_CALL: Final = 0
_CAST: Final = 1
_INFO: Final = 2

_NO_STOP: Final = object()  # `_stop_reason` until a stop is requested (None is a reason too)

# A mailbox is a list consumed from `_head`; it is compacted when the dead prefix grows.
_COMPACT_AT: Final = 4096


class _Watcher(Protocol):
    def _process_exited(self, process: GenServer, reason: object) -> None: ...


@dataclass(frozen=True, slots=True)
class Down:
    """Delivered to `handle_info` when a monitored process or task exits.

    `ref` is what was monitored, `reason` its exit reason, `monitor` the reference that
    `monitor()` returned.
    """

    ref: GenServer | asyncio.Task[Any]
    reason: object
    monitor: MonitorRef


class MonitorRef:
    """The handle `GenServer.monitor` returns; pass it to `demonitor` to stop watching."""

    __slots__ = ("_target", "_watcher")

    def __init__(self, watcher: GenServer, target: GenServer | asyncio.Task[Any]) -> None:
        self._watcher = watcher
        self._target = target

    def _process_exited(self, process: GenServer, reason: object) -> None:
        self._watcher._forget_monitor(self)
        self._watcher.send(Down(process, reason, self))

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._watcher._forget_monitor(self)
        self._watcher.send(Down(task, task_exit_reason(task), self))

    def _cancel(self) -> None:
        """Detach from the target, which then no longer holds this ref (nor the watcher)."""
        target = self._target
        if isinstance(target, GenServer):
            target._unlink(self)
        else:
            target.remove_done_callback(self._task_done)

    def __repr__(self) -> str:
        return f"<MonitorRef {self._target!r}>"


def task_exit_reason(task: asyncio.Task[Any]) -> object:
    """The exit reason of a finished task: NORMAL, KILLED (cancelled) or its exception."""
    if task.cancelled():
        return KILLED
    return task.exception() or NORMAL


class _LoopState:
    """What the kernel keeps per event loop: its local names and its call deadlines.

    It never refers to its loop (nor does anything it holds once the loop's processes
    have exited and its calls have returned), so a closed loop is freed, its table too.
    """

    __slots__ = ("deadlines", "names")

    def __init__(self) -> None:
        self.names: dict[str, GenServer] = {}
        self.deadlines: dict[float, _Deadlines] = {}


# Keyed by a weak reference to the loop (a plain dict: `whereis` is looked up often, and a
# WeakKeyDictionary costs ten times as much). Tables of dead or closed loops are dropped
# when another loop adds its table.
_loops: dict[weakref.ref[asyncio.AbstractEventLoop], _LoopState] = {}
_new_loop_lock = threading.Lock()  # loops in other threads add their tables too


def _state_of(loop: asyncio.AbstractEventLoop) -> _LoopState:
    state = _loops.get(weakref.ref(loop))
    if state is None:
        with _new_loop_lock:
            # (A loop closed with processes still registered, without cancelling its tasks,
            # would be kept by them through its own table: dropped here too.)
            for key in [key for key in _loops if _closed(key())]:
                del _loops[key]
            state = _loops[weakref.ref(loop)] = _LoopState()
    return state


def _closed(loop: asyncio.AbstractEventLoop | None) -> bool:
    return loop is None or loop.is_closed()


def _local_names(loop: asyncio.AbstractEventLoop) -> dict[str, GenServer]:
    """The local names registered on `loop` (each loop has its own)."""
    return _state_of(loop).names


def whereis(name: str | Via) -> GenServer | None:
    """The live process registered under `name` (a local name or a `via` name), or None.

    Local names are per event loop: this looks on the running loop (None without one).
    """
    if not isinstance(name, str):
        return name.whereis()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    state = _loops.get(weakref.ref(loop))
    return state.names.get(name) if state is not None else None


class _Expired(Exception):
    """Set on a call's future when its timeout has passed; `call` raises CallTimeout."""


class _Deadlines:
    """Call timeouts of one length on one loop, without a timer per call.

    Calls with the same timeout expire in the order they were made, so a FIFO of
    (deadline, future) pairs is already sorted: one timer armed for the oldest pending
    call serves them all. A call drops the answered calls at the front of the queue when
    it returns (in `GenServer.call`), so an idle queue is empty: it keeps no reply (nor
    its loop) alive.
    """

    __slots__ = ("_armed", "_queue", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._queue: deque[tuple[float, asyncio.Future[Any]]] = deque()
        self._armed = False  # a flag, not the TimerHandle, which would refer to the loop

    def add(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        deadline = loop.time() + self.timeout
        self._queue.append((deadline, future))
        if not self._armed:
            self._armed = True
            loop.call_at(deadline, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._armed = False
        queue = self._queue
        now = loop.time()
        while queue:
            deadline, future = queue[0]
            if not future.done():
                if deadline > now:
                    self._armed = True
                    loop.call_at(deadline, self._expire, loop)
                    return
                future.set_exception(_Expired())
            queue.popleft()
        # Empty: leave the loop's table, so that a timeout used once is not kept forever.
        # (A process may still hold this queue as its last one: it keeps working alone.)
        table = _state_of(loop).deadlines
        if table.get(self.timeout) is self:
            del table[self.timeout]


# How many timeout lengths get a shared queue per loop. Calls with yet other lengths (a
# request's remaining time budget, say) get a timer each, which asyncio frees as it goes.
_MAX_QUEUES: Final = 8


def _deadlines_for(loop: asyncio.AbstractEventLoop, timeout: float) -> _Deadlines | None:
    """The shared queue for `timeout` on `loop`, or None if there are too many already."""
    table = _state_of(loop).deadlines
    found = table.get(timeout)
    if found is None and len(table) < _MAX_QUEUES:
        found = table[timeout] = _Deadlines(timeout)
    return found


def _expire_call(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(_Expired())


class _Timers:
    """A process's `send_after` timers that may still be pending, to cancel when it exits.

    Fired and cancelled timers are swept out once the list has doubled since the last
    sweep, so a process that sets a new timer per message keeps only the pending ones.
    """

    __slots__ = ("_sweep_at", "_timers")

    def __init__(self, timer: asyncio.TimerHandle) -> None:
        self._timers = [timer]
        self._sweep_at = 8

    def add(self, timer: asyncio.TimerHandle, loop: asyncio.AbstractEventLoop) -> None:
        timers = self._timers
        if len(timers) >= self._sweep_at:
            now = loop.time()
            # A timer that is due has fired, or fires in this turn of the loop.
            timers[:] = [t for t in timers if not t.cancelled() and t.when() > now]
            self._sweep_at = max(8, 2 * len(timers))
        timers.append(timer)

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()


class _StartWith:
    """`cls.start(*args, **kwargs)` as a ChildSpec start: smaller than a closure, which
    counts when a dynamic supervisor holds a spec per child."""

    __slots__ = ("args", "cls", "kwargs", "name")

    def __init__(self, cls: type[GenServer], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.cls = cls
        self.args = args
        self.name = kwargs.get("name")
        rest = {k: v for k, v in kwargs.items() if k != "name"}
        self.kwargs = rest or None

    def __call__(self) -> Awaitable[GenServer]:
        kwargs = self.kwargs or {}
        if self.name is not None:
            return self.cls.start(*self.args, name=self.name, **kwargs)
        return self.cls.start(*self.args, **kwargs)

    def __repr__(self) -> str:
        return f"{self.cls.__qualname__}.start"


class GenServer:
    """A process that owns state and serialises access to it.

    Use it for state that outlives one operation and needs coordination: monitors,
    timers, deferred replies, an external resource only one task may touch. Do not use
    it to organise code (write functions), for stateless computation, or for plain
    get/update state (use `Agent`, or a dict when nothing is concurrent).

    Subclass it and override the callbacks you need. State lives on `self` and is set
    up in `init`, which runs inside the new process::

        class Counter(GenServer):
            # Client API
            async def increment(self, by: int = 1) -> int:
                result: int = await self.call(("increment", by))
                return result

            # Server callbacks
            async def init(self, start: int = 0) -> None:
                self.count = start

            async def handle_call(self, request: tuple[str, int], caller: Caller) -> int:
                _, by = request
                self.count += by
                return self.count

        counter = await Counter.start(10, name="counter")   # returns once init is done
        await counter.increment()                            # -> 11

    Start processes under a supervisor (`Counter.child_spec(10, name="counter")`),
    never bare in production: an unsupervised process that crashes stays dead.
    """

    __slots__ = (
        "__weakref__",
        "_current",
        "_deadlines",
        "_deferred",
        "_exit_reason",
        "_head",
        "_inbox",
        "_links",
        "_loop",
        "_monitors",
        "_name",
        "_regs",
        "_state",
        "_stop_reason",
        "_task",
        "_timers",
        "_waiter",
    )

    # How a supervisor treats this process by default (see `child_spec`).
    child_restart: ClassVar[Restart] = PERMANENT
    child_shutdown: ClassVar[float | None] = 5.0
    child_type: ClassVar[ChildType] = WORKER

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._state = _STARTING
        self._inbox: list[tuple[int, Any, Caller | None] | None] | None = None
        self._head = 0
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_reason: object = _NO_STOP
        self._exit_reason: object = None
        # Who hears of its exit: usually one (its supervisor), else a dict used as an ordered set.
        self._links: _Watcher | dict[_Watcher, None] | None = None
        self._monitors: set[MonitorRef] | None = None  # the monitors this process holds
        self._deadlines: _Deadlines | None = None  # the call timeout queue it used last
        self._timers: _Timers | None = None  # its send_after timers that may be pending
        self._regs: list[tuple[Any, object]] | None = None
        self._name: str | Via | None = None
        self._deferred: set[Caller] | None = None
        self._current: object = None

    # Starting

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Self:
        """Start the process and return it once `init` has returned.

        `name=` (a string or `via(registry, key)`) registers it before `init` runs, so a
        second start under the same name raises AlreadyStarted carrying the live one.
        Every other argument is passed to `init`. If `init` raises, so does `start`, and
        nothing is left behind. Cancelling `start` while `init` runs kills the half-started
        process and returns once it has exited; cancelling it as `init` returns stops the
        process in order (SHUTDOWN, within `child_shutdown`) and returns once it has exited.
        A process killed before `init` ran raises NoProcess.
        """
        name = kwargs.pop("name", None)
        if name is not None and not isinstance(name, str):
            # Else it must be a via(registry, key): a tuple whose registry is a Registry,
            # told apart without importing _registry (which imports this module).
            registry = getattr(name, "registry", None)
            if not isinstance(name, tuple) or not hasattr(registry, "_insert"):
                got = f"via({registry!r}, {name[1]!r})" if registry is not None else repr(name)
                raise TypeError(
                    f"{cls.__qualname__}.start(): name must be a str or via(registry, key) "
                    f"with a Registry, got: {got}"
                )
        self = cls()
        loop = self._loop
        if name is not None:
            self._register_name(name)
        started: asyncio.Future[None] = loop.create_future()
        task = self._task = loop.create_task(
            self._run(started, args, kwargs), name=cls.__qualname__
        )

        def ended_unstarted(_: asyncio.Task[None]) -> None:
            # Cancelled before its first step, `_run` never ran: clean up for it here.
            if self._state is not _EXITED:
                self._exit(KILLED, report=False)
            if not started.done():
                started.set_exception(NoProcess(f"{self!r} was killed before init", KILLED))

        task.add_done_callback(ended_unstarted)
        try:
            await started
        except asyncio.CancelledError:
            if started.done() and not started.cancelled() and started.exception() is None:
                # `init` had returned, the cancellation came before we resumed: the process
                # runs, so stop it as its supervisor would (a supervisor stops its children
                # in reverse order, each within its budget), not kill it.
                await _stop_cancelled_start(self, name)
                raise
            # Kill the half-started process and return once it is gone (a supervisor in
            # its init stops the children it already started), its name free again.
            self._kill()
            await await_killed([(self, name, 0)])
            raise
        task.remove_done_callback(ended_unstarted)
        return self

    @classmethod
    def child_spec(cls, *args: Any, **kwargs: Any) -> ChildSpec:
        """A ChildSpec that starts this class with these arguments (as `start` takes them).

        The id is the `name=` when given, else the class name; restart, shutdown and
        type come from the class attributes `child_restart`, `child_shutdown` and
        `child_type`. Override it to give your process a typed signature.
        """

        name = kwargs.get("name")
        return ChildSpec(
            id=name if name is not None else cls.__qualname__,
            start=_StartWith(cls, args, kwargs),
            restart=cls.child_restart,
            shutdown=cls.child_shutdown,
            type=cls.child_type,
        )

    def _register_name(self, name: str | Via) -> None:
        if isinstance(name, str):
            names = _local_names(self._loop)
            holder = names.get(name)
            if holder is not None:
                raise AlreadyStarted(name, holder)
            names[name] = self
        else:
            name.registry._insert(name.key, self, None)
        self._name = name

    # Client API: these run in the caller's task.

    @property
    def name(self) -> str | Via | None:
        """The name the process was started with, if any."""
        return self._name

    @property
    def alive(self) -> bool:
        """Whether the process accepts messages (it has not begun to exit)."""
        return self._state is _RUNNING or self._state is _STARTING

    @classmethod
    def whereis(cls, name: str | Via) -> Self | None:
        """The live process of this class registered as `name`, or None."""
        process = whereis(name)
        return process if isinstance(process, cls) else None

    # wait_exit, call and stop are plain `def`s returning the coroutine to await, so that
    # no linter's "async function with a timeout parameter" rule applies to them.

    def wait_exit(self, timeout: float | None = None) -> Coroutine[Any, Any, bool]:
        """Wait until the process has exited; False if it still runs after `timeout` s."""
        return self._wait_exit(timeout)

    def _accepting(self) -> bool:
        """Alive and not asked to stop (nor being cancelled): it may take on new work."""
        task = self._task
        return (
            self.alive
            and self._stop_reason is _NO_STOP
            and not (task is not None and task.cancelling())
        )

    @property
    def exit_reason(self) -> object:
        """Why the process exited, or None while it runs."""
        return self._exit_reason

    def call(self, request: object, timeout: float | None = 5.0) -> Coroutine[Any, Any, Any]:
        """Send `request` to `handle_call` and wait for the reply.

        Raises CallTimeout (a TimeoutError) after `timeout` seconds (None waits forever);
        a reply that comes later is dropped, never delivered to a later call. Raises
        NoProcess if the process is not alive or exits before replying, and CallingSelf
        if a process calls itself.
        """
        # A plain def returning the coroutine: ruff's ASYNC109 flags an `async def` taking
        # `timeout`, and no noqa comment suits both a project that enables ASYNC and ruff's
        # defaults (which call it unused). `_otp_` keeps the helper clear of subclasses' names.
        return self._otp_call(request, timeout)

    async def _otp_call(self, request: object, seconds: float | None) -> Any:
        state = self._state
        if state is not _RUNNING and state is not _STARTING:
            raise NoProcess(f"{self!r} is not alive", self._exit_reason)
        task = asyncio.current_task(self._loop)  # passing the loop skips a lookup
        if task is self._task:
            raise CallingSelf(f"{self!r} called itself; handle the request directly")
        loop = self._loop
        future: asyncio.Future[Any] = loop.create_future()
        inbox = self._inbox  # _post, inlined
        if inbox is None:
            self._inbox = [(_CALL, request, Caller(future, task))]
        else:
            inbox.append((_CALL, request, Caller(future, task)))
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if seconds is None:
            return await future
        deadlines = self._deadlines  # the queue of this process's last timeout length
        if deadlines is None or deadlines.timeout != seconds:
            deadlines = _deadlines_for(loop, seconds)
            if deadlines is None:
                return await self._call_with_timer(future, request, seconds)
            self._deadlines = deadlines
        deadlines.add(loop, future)
        try:
            return await future
        except _Expired:
            raise CallTimeout(f"{self!r} did not reply to {request!r} in {seconds}s") from None
        finally:
            # Drop the answered calls at the front: the last call to return empties the
            # queue, so an idle one holds no reply (entries behind a pending call wait for
            # it, at most its timeout).
            queue = deadlines._queue
            while queue and queue[0][1].done():
                queue.popleft()

    async def _call_with_timer(
        self, future: asyncio.Future[Any], request: object, seconds: float
    ) -> Any:
        timer = self._loop.call_later(seconds, _expire_call, future)
        try:
            return await future
        except _Expired:
            raise CallTimeout(f"{self!r} did not reply to {request!r} in {seconds}s") from None
        finally:
            timer.cancel()

    def cast(self, msg: Any) -> None:
        """Send `msg` to `handle_cast` without waiting. Dropped if the process is gone."""
        self._post((_CAST, msg, None))

    def send(self, msg: object) -> None:
        """Send a plain message to `handle_info`. Dropped if the process is gone."""
        self._post((_INFO, msg, None))

    def send_after(self, msg: object, delay: float) -> asyncio.TimerHandle:
        """Send `msg` to `handle_info` after `delay` seconds; `.cancel()` the handle to undo.

        The process's timers still pending when it exits are cancelled: they would keep it
        (and `msg`) in memory until they fire, only for the message to be dropped.
        """
        timer = self._loop.call_later(delay, self.send, msg)
        if self._state is _EXITED:
            timer.cancel()
        elif self._timers is None:
            self._timers = _Timers(timer)
        else:
            self._timers.add(timer, self._loop)
        return timer

    def stop(
        self, reason: object = NORMAL, timeout: float | None = None
    ) -> Coroutine[Any, Any, None]:
        """Stop the process with `reason` after its current message, and wait until it exits.

        `terminate(reason)` runs first. Queued calls fail with NoProcess. Raises CallTimeout
        if it has not exited after `timeout` seconds (None waits forever). From inside the
        process, return `Stop(reason)` from the callback instead.
        """
        return self._otp_stop(reason, timeout)

    async def _otp_stop(self, reason: object, seconds: float | None) -> None:
        if asyncio.current_task() is self._task:
            raise CallingSelf(f"{self!r} tried to stop itself; return Stop(reason) instead")
        if self._state is _EXITED:
            raise NoProcess(f"{self!r} is not alive", self._exit_reason)
        self._request_stop(reason)
        if not await self._wait_exit(seconds):
            raise CallTimeout(f"{self!r} did not stop within {seconds}s")

    def monitor(self, target: GenServer | asyncio.Task[Any]) -> MonitorRef:
        """Watch `target` (a process or any asyncio task) from this process.

        When it exits, `Down(target, reason, ref)` arrives in `handle_info`, at once if
        it is already gone. Call it from this process's own callbacks.
        """
        ref = MonitorRef(self, target)
        if self._state is _EXITED:
            return ref  # a Down would be dropped: watch nothing, hold nothing
        # The watcher keeps its refs too, so that its exit detaches them: else a long-lived
        # target would keep every short-lived watcher (and its state) that ever monitored it.
        monitors = self._monitors
        if monitors is None:
            monitors = self._monitors = set()
        monitors.add(ref)
        if isinstance(target, GenServer):
            target._link(ref)  # (calls ref._process_exited at once if target is gone)
        else:
            target.add_done_callback(ref._task_done)
        return ref

    def demonitor(self, ref: MonitorRef) -> None:
        """Stop watching; a Down already in the mailbox is not removed."""
        ref._watcher._forget_monitor(ref)
        ref._cancel()

    def _forget_monitor(self, ref: MonitorRef) -> None:
        monitors = self._monitors
        if monitors is not None:
            monitors.discard(ref)
            if not monitors:
                self._monitors = None

    def __repr__(self) -> str:
        name = f" {self._name!r}" if self._name is not None else ""
        return f"<{type(self).__qualname__}{name} at {id(self):#x} {self._state.value}>"

    # Server callbacks: override these; they run in the process's own task.

    async def init(self, *args: Any, **kwargs: Any) -> Continue | None:
        """Set up state. Return `Continue(arg)` to finish expensive setup in
        `handle_continue` without blocking the starter. Raise to refuse to start."""
        if args or kwargs:
            raise TypeError(f"{type(self).__qualname__}.init() takes no arguments; override it")
        return None

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        """Answer a call: the return value is the reply (see Reply, Stop, NOREPLY)."""
        raise RuntimeError(f"{type(self).__qualname__} got call {request!r} but has no handle_call")

    async def handle_cast(self, msg: Any) -> Continue | Stop | None:
        """Handle a cast."""
        raise RuntimeError(f"{type(self).__qualname__} got cast {msg!r} but has no handle_cast")

    async def handle_info(self, msg: Any) -> Continue | Stop | None:
        """Handle a plain message, a Down, or a timer. The default logs and drops it."""
        log.warning("%r received unexpected message %r", self, msg)
        return None

    async def handle_continue(self, arg: Any) -> Continue | Stop | None:
        """Run the work `Continue(arg)` deferred; no message is handled before it ends."""
        raise RuntimeError(
            f"{type(self).__qualname__} returned Continue but has no handle_continue"
        )

    async def terminate(self, reason: object) -> None:
        """Clean up before exit. Runs for every exit once `init` succeeded: a normal stop,
        a crash, a supervisor's shutdown, and a kill (task cancellation)."""

    # The process itself.

    async def _run(
        self, started: asyncio.Future[None], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        # One coroutine for the whole life of the process (no nested receive coroutine):
        # an idle process costs one task, this frame and its waiter future.
        action: Continue | Stop | None
        try:
            action = await self.init(*args, **kwargs)
            if action is not None and type(action) is not Continue:
                raise TypeError(
                    f"{type(self).__qualname__}.init() returned {action!r}; "
                    "expected None or Continue(...)"
                )
        except BaseException as exc:
            # A failed init leaves nothing behind; the starter gets the exception.
            killed = isinstance(exc, asyncio.CancelledError)
            self._exit(KILLED if killed else exc, report=False)
            if not started.done():  # (done: the starter itself was cancelled)
                started.set_exception(
                    NoProcess(f"{self!r} was killed during init", KILLED) if killed else exc
                )
            if not isinstance(exc, Exception | asyncio.CancelledError):
                raise
            return
        self._state = _RUNNING
        if not started.done():
            started.set_result(None)
        del started, args, kwargs
        reason: object = NORMAL
        killed = False
        try:
            while True:
                while action is not None:
                    if type(action) is Continue:
                        self._current = action
                        action = await self.handle_continue(action.arg)
                    elif type(action) is Stop:
                        reason = action.reason
                        return
                    else:
                        raise TypeError(
                            f"{type(self).__qualname__}: a callback returned {action!r}; "
                            "expected None, Continue(...) or Stop(...)"
                        )
                if self._stop_reason is not _NO_STOP:
                    reason = self._stop_reason
                    return
                inbox = self._inbox
                if not inbox:
                    # Idle, maybe for hours: keep nothing of the last message (its request,
                    # its reply, the calling task) while waiting for the next one.
                    self._current = msg = payload = caller = result = future = None
                    waiter = self._waiter = self._loop.create_future()
                    await waiter
                    continue
                head = self._head
                msg = inbox[head]
                head += 1
                if head == len(inbox):
                    inbox.clear()
                    head = 0
                else:
                    inbox[head - 1] = None
                    if head >= _COMPACT_AT and head * 2 >= len(inbox):
                        del inbox[:head]
                        head = 0
                self._head = head
                self._current = msg
                assert msg is not None
                kind, payload, caller = msg
                if kind == _CALL:
                    assert caller is not None
                    result = await self.handle_call(payload, caller)
                    if type(result) in _STEERING or result is NOREPLY:
                        action = self._reply(caller, result)
                    else:  # a plain reply: caller.reply(result), inlined
                        future = caller._future
                        if not future.done():
                            future.set_result(result)
                elif kind == _CAST:
                    action = await self.handle_cast(payload)
                else:
                    action = await self.handle_info(payload)
        except asyncio.CancelledError:
            reason = KILLED
            killed = True
        except BaseException as exc:
            reason = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self._state = _EXITING
            if killed and self._task is not None:
                # A kill stays a kill: terminate runs, but its first await is cancelled too,
                # so a slow terminate cannot outlast a supervisor's brutal kill or budget.
                self._task.cancel()
            try:
                await self.terminate(reason)
            except asyncio.CancelledError:
                reason = KILLED  # killed while terminating (its shutdown budget ran out)
            except BaseException as exc:
                log.error("%r: terminate(%r) raised", self, reason, exc_info=exc)
            self._exit(reason, report=True)

    def _reply(self, caller: Caller, result: object) -> Continue | Stop | None:
        kind = type(result)
        if kind is Reply:
            assert isinstance(result, Reply)
            caller.reply(result.value)
            return result.then
        if kind is Stop:
            assert isinstance(result, Stop)
            self._defer(caller)
            return result
        if result is NOREPLY:
            self._defer(caller)
            return None
        caller.reply(result)
        return None

    def _defer(self, caller: Caller) -> None:
        # Remember unanswered callers so they fail at once if this process exits.
        deferred = self._deferred
        if deferred is None:
            deferred = self._deferred = set()
        deferred.add(caller)
        caller._future.add_done_callback(lambda _: deferred.discard(caller))

    def _post(self, msg: tuple[int, Any, Caller | None]) -> None:
        state = self._state
        if state is not _RUNNING and state is not _STARTING:
            if msg[2] is not None:
                msg[2]._fail(NoProcess(f"{self!r} is not alive", self._exit_reason))
            return
        inbox = self._inbox
        if inbox is None:
            self._inbox = [msg]
        else:
            inbox.append(msg)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _request_stop(self, reason: object) -> None:
        if self._stop_reason is _NO_STOP and self.alive:
            self._stop_reason = reason
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)

    def _kill(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()

    async def _wait_exit(self, seconds: float | None) -> bool:
        task = self._task
        if task is None or task.done():
            return True
        done, _ = await asyncio.wait((task,), timeout=seconds)
        return bool(done)

    def _link(self, watcher: _Watcher) -> None:
        if self._state is _EXITED:
            watcher._process_exited(self, self._exit_reason)
            return
        links = self._links
        if links is None:
            self._links = watcher
        elif isinstance(links, dict):
            links[watcher] = None
        else:
            self._links = {links: None, watcher: None}

    def _unlink(self, watcher: _Watcher) -> None:
        links = self._links
        if links is watcher:
            self._links = None
        elif isinstance(links, dict):
            links.pop(watcher, None)  # a dict, not a list: thousands of monitors come and go
            if not links:
                self._links = None  # (a dict keeps its size after a peak; let it go)

    def _exit(self, reason: object, *, report: bool) -> None:
        """Everything that happens once the process is gone, in one synchronous step."""
        self._state = _EXITED
        self._exit_reason = reason
        self._waiter = None
        if report and not is_normal(reason) and reason != KILLED:
            exc_info, repeat = None, ""
            if isinstance(reason, BaseException):
                exc_info, repeat = traceback_or_repeat(reason)
            log.error(
                "process %r exited with reason %r; last message: %s%s",
                self,
                reason,
                _describe(self._current),
                repeat,
                exc_info=exc_info,
            )
        current, self._current = self._current, None
        if type(current) is tuple and current[2] is not None:  # a call that got no reply
            current[2]._fail(NoProcess(f"{self!r} exited with reason {reason!r}", reason))
        inbox, head = self._inbox, self._head
        self._inbox, self._head = None, 0
        for msg in inbox[head:] if inbox else ():
            if msg is not None and msg[2] is not None:
                msg[2]._fail(NoProcess(f"{self!r} exited with reason {reason!r}", reason))
        if self._deferred:
            for caller in list(self._deferred):
                caller._fail(NoProcess(f"{self!r} exited with reason {reason!r}", reason))
        name = self._name
        if isinstance(name, str):
            names = _local_names(self._loop)
            if names.get(name) is self:
                del names[name]
        elif name is not None:
            name.registry._drop(name.key, self)
        if self._regs is not None:
            for registry, key in self._regs:
                registry._drop(key, self)
            self._regs = None
        timers, self._timers = self._timers, None
        if timers is not None:
            timers.cancel()
        monitors, self._monitors = self._monitors, None
        for ref in monitors or ():
            ref._cancel()
        links, self._links = self._links, None
        for watcher in links if isinstance(links, dict) else (links,) if links else ():
            try:
                watcher._process_exited(self, reason)
            except Exception:  # a broken watcher must not stop the others hearing of it
                log.exception("%r: exit notification to %r failed", self, watcher)


def _describe(message: object) -> str:
    if type(message) is tuple:
        kind, payload, _ = message
        return f"{('call', 'cast', 'info')[kind]} {payload!r}"
    if type(message) is Continue:
        return f"continue {message.arg!r}"
    return "none"


KILL_GRACE: Final = 5.0
"""Seconds a cancelled child gets to exit before a supervisor abandons it (it swallowed
its CancelledError: Python cannot kill a task, but the tree must still stop)."""


def log_abandoned(what: object, child_id: object, shutdown: float | None) -> None:
    """Log loudly that `what` (a process or task) ignored its cancellation and is abandoned."""
    log.error(
        "child %r (%r, shutdown budget %rs) still runs %ss after it was cancelled: it "
        "swallowed its CancelledError; abandoning it and going on",
        child_id,
        what,
        shutdown,
        KILL_GRACE,
    )


async def await_killed(killed: Iterable[tuple[GenServer, object, float | None]]) -> None:
    """Wait until killed processes, given as (process, child id, shutdown budget), have
    exited; the ones still running after KILL_GRACE seconds are logged and abandoned."""
    waiting = {
        p._task: (p, child_id, budget)
        for p, child_id, budget in killed
        if p._task is not None and not p._task.done()
    }
    if not waiting:
        return
    _, stuck = await asyncio.wait(waiting, timeout=KILL_GRACE)
    for task in stuck:
        log_abandoned(*waiting[task])


async def _stop_cancelled_start(process: GenServer, name: object) -> None:
    try:
        await shutdown_process(process, process.child_shutdown, name)
    except asyncio.CancelledError:  # cancelled again: kill it, and still wait for it
        process._kill()
        await await_killed([(process, name, 0)])


async def shutdown_process(
    process: GenServer, shutdown: float | None, child_id: object = None
) -> None:
    """Stop `process` the way a supervisor does and wait until it has exited.

    `shutdown` seconds for `terminate` to finish (None: wait forever), then cancellation;
    0 cancels at once (brutal kill). A process still running KILL_GRACE seconds after its
    cancellation is logged as an error and abandoned.
    """
    if shutdown == 0:
        process._kill()
    else:
        process._request_stop(SHUTDOWN)
        if await process._wait_exit(shutdown):
            return
        process._kill()
    if not await process._wait_exit(KILL_GRACE):
        log_abandoned(process, process.name if child_id is None else child_id, shutdown)
