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
import weakref
from collections import deque
from collections.abc import Coroutine, Hashable
from math import isnan
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self

from ._childspec import PERMANENT, WORKER, ChildSpec, ChildType, Restart, class_spec
from ._deadlines import NEVER, _Deadlines, _deadlines_of, _Expired, _local_names, _loops
from ._errors import (
    AlreadyStarted,
    CallingSelf,
    CallTimeout,
    NoProcess,
    _bad_seconds,
    check_seconds,
)
from ._instrument import called as _called
from ._instrument import exited as _exited_instrumented
from ._instrument import handle as _handle_instrumented
from ._instrument import posted as _posted
from ._mailbox import _CAST, _INFO, Mailbox, Message
from ._messages import (
    KILLED,
    NOREPLY,
    NORMAL,
    Caller,
    Continue,
    MonitorRef,
    NoReply,
    Reply,
    Stop,
    is_normal,
)
from ._reports import fields, traceback_or_repeat
from ._shutdown import await_killed, stop_cancelled_start
from ._steps import _EAGER_LOOPS, _next_turn, _step_now, _steps_like_asyncio, _task_of
from ._timers import _Timers
from ._via import UNIQUE, Via, _new_via

if TYPE_CHECKING:
    from ._registry import Registry

log = logging.getLogger(__package__ or "otp")

# True while some loop is observed (`otp.observe`) or instrumented (`otp.instrument`):
# the one check a call, a cast and a message pay for either (see _instrument).
_instrumented = False


def _set_instrumented(on: bool) -> None:
    global _instrumented
    _instrumented = on


class _State(enum.IntEnum):
    """A process's lifecycle, in order: it only ever moves forward.

    `alive` is `state < EXITING`; "takes on new work" (a supervisor starting or
    restarting children) is `state < STOPPING`.
    """

    STARTING = 0  # init is running; messages queue up for after it
    RUNNING = 1
    # a stop or a kill was asked for: messages still queue, but it will exit
    STOPPING = 2
    EXITING = 3  # terminate() is running; new calls fail
    EXITED = 4


_STARTING: Final = _State.STARTING
_RUNNING: Final = _State.RUNNING
_STOPPING: Final = _State.STOPPING
_EXITING: Final = _State.EXITING
_EXITED: Final = _State.EXITED

# What `handle_call` returns besides a plain reply (one set lookup per call tells).
_STEERING: Final = frozenset((Reply, Stop, NoReply))

# `_otp_exit_reason` until a stop is asked for (None is a reason too)
_NO_REASON: Final = object()

# asyncio's own loop classes make futures with `asyncio.Future(loop=loop)` and tell the
# time with `time.monotonic`: for them a call does both itself, which saves a Python
# frame each. Any other loop (uvloop, a test clock) is asked through its methods.
_STOCK_LOOPS: Final[frozenset[type[asyncio.AbstractEventLoop]]] = frozenset(
    cls
    for cls in vars(asyncio).values()
    if isinstance(cls, type)
    and issubclass(cls, asyncio.BaseEventLoop)
    and cls.create_future is asyncio.BaseEventLoop.create_future
    and cls.time is asyncio.BaseEventLoop.time
)
_Future: Final = asyncio.Future
_Task: Final = asyncio.Task


# The start time of the last process made (see GenServer.__init__).
_last_start = -1.0
_new_object: Final = object.__new__


class _Watcher(Protocol):
    def _otp_process_exited(self, process: GenServer, reason: object) -> None: ...


def whereis(name: str | Via) -> GenServer | None:
    """The live process registered under `name` (a local name or a `via` name), or None.

    Local names are per event loop: this looks on the running loop (None without one).
    """
    if not isinstance(name, str):
        if isinstance(name, Via):
            return name.whereis()
        raise TypeError(f"whereis(): name must be a str or via(registry, key), got: {name!r}")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    state = _loops.get(weakref.ref(loop))
    return state.names.get(name) if state is not None else None


class GenServer(Mailbox):
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

            async def handle_call(self, msg: tuple[str, int], caller: Caller) -> int:
                _, by = msg
                self.count += by
                return self.count

        counter = await Counter.start(10, name="counter")   # returns once init is done
        await counter.increment()                            # -> 11

    Start processes under a supervisor (`Counter.child_spec(10, name="counter")`),
    never bare in production: an unsupervised process that crashes stays dead.

    Which exit reason to choose (for `Stop(reason)` or `stop(reason)`):

    - `NORMAL`: the work is done. Not logged; a transient child is not restarted.
    - `SHUTDOWN`: an orderly stop asked for from outside, as a supervisor does. Not
      logged; a transient child is not restarted.
    - `Shutdown(detail)`: the same, with a detail for whoever monitors the process
      (a session that ended because its user logged out, say).
    - anything else, usually the exception: a crash. Logged as an error, with the last
      message; a transient child is restarted. A permanent child is restarted whatever
      the reason, a temporary one never.

    `KILLED` is what a kill (a cancellation) leaves: not logged as an error, and a
    transient child is restarted, as after a crash.
    """

    __slots__ = (
        "__weakref__",
        "_otp_current",
        "_otp_deadlines",
        "_otp_exit_reason",
        "_otp_held",
        "_otp_links",
        "_otp_loop",
        "_otp_name",
        "_otp_registry",
        "_otp_regs",
        "_otp_started",
        "_otp_state",
        "_otp_task",
        "_otp_timers",
    )

    # How a supervisor treats this process by default (see `child_spec`).
    child_restart: ClassVar[Restart] = PERMANENT
    child_shutdown: ClassVar[float | None] = 5.0
    child_type: ClassVar[ChildType] = WORKER

    def __init__(self) -> None:
        # (Mailbox.__init__, inlined: a dynamic supervisor starts one per user)
        self._otp_inbox: deque[Message] | None = None
        self._otp_waiter: asyncio.Future[None] | None = None
        loop = self._otp_loop = asyncio.get_running_loop()
        # When it was made, in its loop's time (for the observer's uptime): the float
        # object of the last start if that was less than a millisecond ago, so that
        # 100,000 processes started in a burst share a few hundred floats instead of
        # holding one each (32 bytes a process). (abs: a loop with a clock of its own,
        # a test's, may be behind the last one read.)
        global _last_start
        now = _monotonic() if type(loop) in _STOCK_LOOPS else loop.time()
        if abs(now - _last_start) < 0.001:
            self._otp_started = _last_start
        else:
            self._otp_started = _last_start = now
        self._otp_state = _STARTING
        self._otp_task: asyncio.Task[None] | None = None
        # The reason a stop asked for (once STOPPING), then the reason it exited with.
        self._otp_exit_reason: object = _NO_REASON
        # Who hears of its exit: usually one (its supervisor), else a dict used as an
        # ordered set.
        self._otp_links: _Watcher | dict[_Watcher, None] | None = None
        # The monitors it holds and its deferred callers (NOREPLY, Stop): what its exit
        # must detach or fail. One set for both (a slot less per process).
        self._otp_held: set[MonitorRef | Caller] | None = None
        # its loop's call deadlines while it may have timed calls pending
        self._otp_deadlines: _Deadlines | None = None
        # its send_after timers that may be pending
        self._otp_timers: _Timers | None = None
        self._otp_regs: list[tuple[Any, object]] | None = None
        # Its name: a local name, or the key of its via name in `_otp_registry`. (Not
        # the via name itself: that is one object fewer per process, and a dynamic
        # supervisor may hold 100,000 of them.)
        self._otp_name: Hashable = None
        self._otp_registry: Registry | None = None
        self._otp_current: object = None

    # Starting

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Self:
        """Start the process and return it once `init` has returned.

        `name=` (a string or `via(registry, key)`) registers it before `init` runs, so a
        second start under the same name raises AlreadyStarted carrying the live one.
        Every other argument is passed to `init`. If `init` raises, so does `start`, and
        nothing is left behind. Cancelling `start` while `init` runs kills the
        half-started process and returns once it has exited; cancelling it as `init`
        returns stops the process in order (SHUTDOWN, within `child_shutdown`) and
        returns once it has exited. A process killed before `init` ran raises NoProcess.

        On asyncio's own loops `start` takes the new process's first step itself, as
        Python 3.12's eager tasks do: `init` still runs as the process (in its task,
        with a copy of the starter's context), but a start whose `init` does not
        suspend returns without waiting for a turn of the loop.
        """
        name = kwargs.pop("name", None)
        self = cls()
        loop = self._otp_loop
        if name is not None:
            # Registered before init runs (the second of two starts under one name
            # fails here, with nothing else done).
            if isinstance(name, str):
                names = _local_names(loop)
                holder = names.get(name)
                if holder is not None:
                    raise AlreadyStarted(name, holder)
                names[name] = self
                self._otp_name = name
            else:
                # Else it must be a via(registry, key) with a UNIQUE Registry.
                registry = name.registry if isinstance(name, Via) else None
                insert = getattr(registry, "_insert", None)
                if insert is None or getattr(registry, "keys", None) is not UNIQUE:
                    got = f"via({name[0]!r}, {name[1]!r})" if isinstance(name, Via) else repr(name)
                    raise TypeError(
                        f"{cls.__qualname__}.start(): name must be a str or "
                        f"via(registry, key) with a UNIQUE Registry, got: {got}"
                    )
                insert(name.key, self, None)
                self._otp_name = name.key
                self._otp_registry = name.registry
        started: asyncio.Future[None] = (
            _Future(loop=loop) if type(loop) in _STOCK_LOOPS else loop.create_future()
        )
        eager = _EAGER_LOOPS.get(type(loop))
        if eager is None:
            eager = _EAGER_LOOPS[type(loop)] = _steps_like_asyncio(type(loop))
        run = self._otp_run(started, args, kwargs)
        if eager and loop._task_factory is None:  # type: ignore[attr-defined]
            # What loop.create_task() does here, without its two frames.
            ready = loop._ready  # type: ignore[attr-defined]
            queued = len(ready)
            task = self._otp_task = _Task(run, loop=loop, name=cls.__qualname__)
            stepped = _step_now(loop, ready, queued)
        else:
            task = self._otp_task = loop.create_task(run, name=cls.__qualname__)
            stepped = False
        if stepped:
            # The task has taken its first step: from here on it dies as any process
            # does, whoever cancels it.
            if started.done():  # `init` returned or failed without suspending
                exc = started.exception()
                if exc is not None:
                    raise exc
                return self
        else:

            def ended_unstarted(_: asyncio.Task[None]) -> None:
                # Cancelled before its first step, `_otp_run` never ran: clean up for
                # it here.
                if self._otp_state is not _EXITED:
                    self._otp_exit(KILLED, report=False)
                if not started.done():
                    started.set_exception(NoProcess(f"{self!r} was killed before init", KILLED))

            task.add_done_callback(ended_unstarted)
        try:
            if not stepped:
                # Yield once before waiting: the new task's first step was queued before
                # this task's next one, so an `init` that does not suspend is done when
                # this task resumes, and the start takes one turn of the loop. (Awaiting
                # `started` alone takes two: one to run `init`, one more to wake this
                # task.)
                await _next_turn()
            await started
        except asyncio.CancelledError:
            # (Cancelling this task cancels `started` too, as the future it awaits: an
            # `init` that returns later in the same turn of the loop finds it done and
            # leaves the process RUNNING, which is what tells.)
            if self._otp_state is _RUNNING or (
                started.done() and not started.cancelled() and started.exception() is None
            ):
                # `init` had returned, the cancellation came before we resumed: the
                # process runs, so stop it as its supervisor would (a supervisor stops
                # its children in reverse order, each within its budget), not kill it.
                await stop_cancelled_start(self, name)
                raise
            # Kill the half-started process and return once it is gone (a supervisor in
            # its init stops the children it already started), its name free again. No
            # one waits on `started` any more: cancel it, or retrieve the error of an
            # init that failed meanwhile, so asyncio does not report it as never
            # retrieved.
            if not started.cancel() and not started.cancelled():
                started.exception()
            self._otp_kill()
            await await_killed([(self, name, 0)])
            raise
        if not stepped:
            task.remove_done_callback(ended_unstarted)
        return self

    @classmethod
    def child_spec(cls, *args: Any, **kwargs: Any) -> ChildSpec:
        """A ChildSpec that starts this class with these arguments (as `start` takes).

        The id is the `name=` when given, else the class name; restart, shutdown and
        type come from the class attributes `child_restart`, `child_shutdown` and
        `child_type`. Override it to give your process a typed signature.
        """
        # (kwargs is this call's own `**kwargs` dict: kept, not copied)
        name = kwargs.pop("name", None)
        return class_spec(
            name if name is not None else cls.__qualname__,
            cls,
            args,
            kwargs or None,
            name,
            cls.child_restart,
            cls.child_shutdown,
            cls.child_type,
        )

    # Client API: these run in the caller's task.

    @property
    def name(self) -> str | Via | None:
        """The name the process was started with, if any."""
        registry = self._otp_registry
        if registry is None:
            return self._otp_name  # type: ignore[return-value]
        return _new_via(Via, (registry, self._otp_name))

    @property
    def alive(self) -> bool:
        """Whether the process accepts messages (it has not begun to exit)."""
        return self._otp_state < _EXITING

    @classmethod
    def whereis(cls, name: str | Via) -> Self | None:
        """The live process of this class registered as `name`, or None."""
        process = whereis(name)
        return process if isinstance(process, cls) else None

    # wait_exit and stop are plain `def`s returning the coroutine to await, so that no
    # linter's "async function with a timeout parameter" rule applies to them (`call`
    # is the exception: see there).

    def wait_exit(self, timeout: float | None = None) -> Coroutine[Any, Any, bool]:
        """Wait until the process has exited; False if it runs after `timeout` s."""
        check_seconds("wait_exit timeout", timeout)
        return self._otp_wait_exit(timeout)

    def _otp_accepting(self) -> bool:
        """Alive and not asked to stop nor being killed: it may take on new work."""
        # A kill through the kernel sets STOPPING at once; a cancellation from elsewhere
        # (a TaskGroup, asyncio.run's shutdown) shows only in the task until it lands.
        task = self._otp_task
        return self._otp_state < _STOPPING and not (task is not None and task.cancelling())

    @property
    def exit_reason(self) -> object:
        """Why the process exited, or None while it runs."""
        return self._otp_exit_reason if self._otp_state is _EXITED else None

    async def call(
        self,
        request: object,
        timeout: float | None = 5.0,  # noqa: ASYNC109, RUF100
    ) -> Any:
        """Send `request` to `handle_call` and wait for the reply.

        Raises CallTimeout (a TimeoutError) after `timeout` seconds (None waits
        forever); a reply that comes later is dropped, never delivered to a later call.
        Raises NoProcess if the process is not alive or exits before replying, and
        CallingSelf if a process calls itself.
        """
        # The hot path: every request a service handles goes through here, so it is one
        # frame with the mailbox and Caller code inlined. (ASYNC109 would have callers
        # wrap the call in `asyncio.timeout()`: a TimerHandle per call. RUF100 is named
        # for projects that enable RUF but not ASYNC.)
        if self._otp_state >= _EXITING:
            reason = self._otp_exit_reason  # (the reason it exits with, while it does)
            raise NoProcess(f"{self!r} is not alive", None if reason is _NO_REASON else reason)
        loop = self._otp_loop
        task = _task_of(loop)
        if task is self._otp_task:
            raise CallingSelf(f"{self!r} called itself; handle the request directly")
        stock = type(loop) in _STOCK_LOOPS
        future: asyncio.Future[Any] = _Future(loop=loop) if stock else loop.create_future()
        # Caller(future, task, deadline, request), without its __init__ frame. It is the
        # call's message too (see _mailbox).
        caller = _new_object(Caller)
        caller._future = future
        caller.task = task
        caller._request = request
        if timeout is None:
            caller._deadline = NEVER
        else:
            # The deadline travels in the Caller: nothing to register per call, nothing
            # to undo when it returns. This process is visited by its loop's sweep from
            # its first timed call until one finds none pending (see _Deadlines).
            try:
                deadline = caller._deadline = (_monotonic() if stock else loop.time()) + timeout
            except TypeError:
                raise TypeError(_bad_seconds("call timeout", timeout)) from None
            deadlines = self._otp_deadlines
            if deadlines is None:
                deadlines = _deadlines_of(loop)
                deadlines.watch(self)
            if not deadline >= deadlines.due:  # (NaN too, refused here: a rare branch)
                if isnan(deadline):
                    raise ValueError(_bad_seconds("call timeout", timeout))
                deadlines.arm(loop, deadline)
        inbox = self._otp_inbox  # self._otp_deliver(...), inlined: this is the hot path
        if inbox is None:
            self._otp_inbox = deque((caller,))
        else:
            inbox.append(caller)
        if _instrumented:
            _called(self)
        waiter = self._otp_waiter
        if waiter is not None:
            self._otp_waiter = None
            if not waiter.done():
                waiter.set_result(None)
        # The mailbox holds the Caller now. Let it go here, so that it is freed once the
        # server has replied and moved on, not only when this task resumes: with 1,000
        # calls in flight, a Caller kept alive per waiting call made the garbage
        # collector run more often, some 2,400 instructions per call.
        del caller
        try:
            return await future
        except _Expired:
            raise CallTimeout(f"{self!r} did not reply to {request!r} in {timeout}s") from None

    def cast(self, msg: Any) -> None:
        """Send `msg` to `handle_cast`, not waiting. Dropped if the process is gone."""
        self._otp_post((_CAST, msg, None))

    def send(self, msg: object) -> None:
        """Send a plain message to `handle_info`. Dropped if the process is gone."""
        self._otp_post((_INFO, msg, None))

    def send_after(self, msg: object, delay: float) -> asyncio.TimerHandle:
        """Send `msg` to `handle_info` after `delay` s; `.cancel()` the handle to undo.

        The process's timers still pending when it exits are cancelled: they would keep
        it (and `msg`) in memory until they fire, only for the message to be dropped.
        """
        check_seconds("send_after delay", delay, none=False)
        timer = self._otp_loop.call_later(delay, self.send, msg)
        if self._otp_state is _EXITED:
            timer.cancel()
        elif self._otp_timers is None:
            self._otp_timers = _Timers(timer)
        else:
            self._otp_timers.add(timer, self._otp_loop)
        return timer

    def stop(
        self, reason: object = NORMAL, timeout: float | None = None
    ) -> Coroutine[Any, Any, None]:
        """Stop the process with `reason` after its current message; wait for its exit.

        `terminate(reason)` runs first. Queued calls fail with NoProcess. Raises
        CallTimeout if it has not exited after `timeout` seconds (None waits forever).
        From inside the process, return `Stop(reason)` from the callback instead.
        """
        check_seconds("stop timeout", timeout)
        return self._otp_stop(reason, timeout)

    async def _otp_stop(self, reason: object, seconds: float | None) -> None:
        if asyncio.current_task() is self._otp_task:
            raise CallingSelf(f"{self!r} tried to stop itself; return Stop(reason) instead")
        if self._otp_state is _EXITED:
            raise NoProcess(f"{self!r} is not alive", self.exit_reason)
        self._otp_request_stop(reason)
        if not await self._otp_wait_exit(seconds):
            raise CallTimeout(f"{self!r} did not stop within {seconds}s")

    def monitor(self, target: GenServer | asyncio.Task[Any]) -> MonitorRef:
        """Watch `target` (a process or any asyncio task) from this process.

        When it exits, `Down(target, reason, ref)` arrives in `handle_info`, at once if
        it is already gone. Call it from this process's own callbacks.
        """
        if not isinstance(target, GenServer | asyncio.Future):
            raise TypeError(f"monitor() needs a process or an asyncio task, got: {target!r}")
        ref = MonitorRef(self, target)
        if self._otp_state is _EXITED:
            return ref  # a Down would be dropped: watch nothing, hold nothing
        # The watcher keeps its refs too, so that its exit detaches them: else a
        # long-lived target would keep every short-lived watcher (and its state) that
        # ever monitored it.
        held = self._otp_held
        if held is None:
            held = self._otp_held = set()
        held.add(ref)
        if isinstance(target, GenServer):
            # (calls ref._otp_process_exited at once if target is gone)
            target._otp_link(ref)
        else:
            target.add_done_callback(ref._task_done)
        return ref

    def demonitor(self, ref: MonitorRef) -> None:
        """Stop watching; a Down already in the mailbox is not removed."""
        if not isinstance(ref, MonitorRef):
            raise TypeError(f"demonitor() needs what monitor() returned, got: {ref!r}")
        ref._watcher._otp_forget_monitor(ref)
        ref._cancel()

    def _otp_forget_monitor(self, ref: MonitorRef) -> None:
        held = self._otp_held
        if held is not None:
            held.discard(ref)
            if not held:
                self._otp_held = None

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self._otp_name is not None else ""
        state = self._otp_state.name.lower()
        return f"<{type(self).__qualname__}{name} at {id(self):#x} {state}>"

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
        """Run the work `Continue(arg)` deferred; no message is handled before it."""
        raise RuntimeError(
            f"{type(self).__qualname__} returned Continue but has no handle_continue"
        )

    async def terminate(self, reason: object) -> None:
        """Clean up before exit. Runs for every exit once `init` succeeded: a normal
        stop, a crash, a supervisor's shutdown, and a kill (task cancellation).

        On a kill (`reason` is KILLED) the first await in `terminate` raises
        CancelledError: a kill stays a kill, so a slow `terminate` cannot outlast a
        supervisor's brutal kill or its shutdown budget. Do the cleanup that must happen
        before the first await, or in a `finally`. A stop with a shutdown budget whose
        time runs out while `terminate` awaits is cancelled the same way.
        """

    # The process itself.

    async def _otp_run(
        self, started: asyncio.Future[None], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        # One coroutine for the whole life of the process (no nested receive coroutine):
        # an idle process costs one task, this frame and its waiter future.
        #
        # This task's own cancellation is the kill signal. Python cannot stop a task
        # from outside except by cancelling it, and a cancellation is what every asyncio
        # owner already uses (a TaskGroup, asyncio.run's shutdown, a supervisor's
        # `_otp_kill`), so a process dies the same way whoever kills it: CancelledError
        # at its current await, then `terminate(KILLED)`. Orderly stops go through the
        # mailbox instead (`_otp_request_stop`).
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
            self._otp_exit(KILLED if killed else exc, report=False)
            if not started.done():  # (done: the starter itself was cancelled)
                started.set_exception(
                    NoProcess(f"{self!r} was killed during init", KILLED) if killed else exc
                )
            if not isinstance(exc, Exception | asyncio.CancelledError):
                raise
            return
        if self._otp_state is _STARTING:  # (else a stop or a kill came during init)
            self._otp_state = _RUNNING
        if not started.done():
            started.set_result(None)
        del started, args, kwargs
        reason: object = NORMAL
        killed = False
        try:
            while True:
                while action is not None:
                    if type(action) is Continue:
                        self._otp_current = action
                        if _instrumented:
                            work = self.handle_continue(action.arg)
                            action = await _handle_instrumented(self, action, work)
                        else:
                            action = await self.handle_continue(action.arg)
                    elif type(action) is Stop:
                        reason = action.reason
                        return
                    else:
                        raise TypeError(
                            f"{type(self).__qualname__}: a callback returned "
                            f"{action!r}; "
                            "expected None, Continue(...) or Stop(...)"
                        )
                if self._otp_state is _STOPPING:
                    reason = self._otp_exit_reason
                    if reason is _NO_REASON:
                        # Killed (a kill sets no reason), and the callback swallowed the
                        # CancelledError it got: the kill goes on all the same.
                        raise asyncio.CancelledError
                    return
                inbox = self._otp_inbox
                if not inbox:
                    # Idle, maybe for hours: keep nothing of the last message (its
                    # request, its reply, the calling task) while waiting for the next
                    # one, nor an empty deque (see _mailbox).
                    self._otp_current = msg = payload = result = future = None
                    self._otp_inbox = None
                    loop = self._otp_loop
                    waiter = self._otp_waiter = (
                        _Future(loop=loop) if type(loop) in _STOCK_LOOPS else loop.create_future()
                    )
                    await waiter
                    continue
                msg = self._otp_current = inbox.popleft()
                if _instrumented:
                    work = self._otp_handle(msg)
                    action = await _handle_instrumented(self, msg, work)
                elif isinstance(msg, Caller):  # a call
                    result = await self.handle_call(msg._request, msg)
                    if type(result) in _STEERING:  # Reply, Stop or NOREPLY
                        action = self._otp_reply(msg, result)
                    else:  # a plain reply: caller.reply(result), inlined
                        future = msg._future
                        if not future.done():
                            future.set_result(result)
                else:
                    kind, payload, _ = msg  # (a cast's token is for _instrument)
                    if kind == _CAST:
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
            self._otp_state = _EXITING
            # (what a call meanwhile is told; the reason is final at exit)
            self._otp_exit_reason = reason
            if killed and self._otp_task is not None:
                self._otp_task.cancel()  # a kill stays a kill (see `terminate`)
            try:
                await self.terminate(reason)
            except asyncio.CancelledError:
                # killed while terminating (its shutdown budget ran out)
                reason = KILLED
            except GeneratorExit:
                # Closed by its owner: a process abandoned for swallowing its
                # cancellation, its loop gone. Nothing is left to report to.
                raise
            except BaseException as exc:
                log.error("%r: terminate(%r) raised", self, reason, exc_info=exc)
            self._otp_exit(reason, report=True)

    async def _otp_handle(self, msg: Message) -> Continue | Stop | None:
        """One message's callback, as `_otp_run` inlines it (for the instrumented
        path)."""
        if isinstance(msg, Caller):
            result = await self.handle_call(msg._request, msg)
            if type(result) in _STEERING:
                return self._otp_reply(msg, result)
            msg.reply(result)
            return None
        kind, payload, _ = msg  # (for a cast, the token of `Hooks.on_cast`)
        if kind == _CAST:
            return await self.handle_cast(payload)
        return await self.handle_info(payload)

    def _otp_expire_calls(self, now: float) -> float:
        """Fail the calls to this process whose deadline is `now` or past (their `call`
        raises CallTimeout); return the earliest deadline still to come, or NEVER.

        A call waits in the mailbox, as the current message, or among the deferred
        callers (NOREPLY, Stop) until it is answered: that is all there is to look at.
        """
        callers = [msg for msg in self._otp_inbox or () if isinstance(msg, Caller)]
        current = self._otp_current
        if isinstance(current, Caller):
            callers.append(current)
        if self._otp_held:
            callers.extend(held for held in self._otp_held if isinstance(held, Caller))
        earliest = NEVER
        for caller in callers:
            future = caller._future
            if not future.done():
                deadline = caller._deadline
                if deadline <= now:
                    future.set_exception(_Expired())
                elif deadline < earliest:
                    earliest = deadline
        return earliest

    def _otp_reply(self, caller: Caller, result: object) -> Continue | Stop | None:
        kind = type(result)
        if kind is Reply:
            assert isinstance(result, Reply)
            caller.reply(result.value)
            return result.then
        if kind is Stop:
            assert isinstance(result, Stop)
            self._otp_defer(caller)
            return result
        if result is NOREPLY:
            self._otp_defer(caller)
            return None
        caller.reply(result)
        return None

    def _otp_defer(self, caller: Caller) -> None:
        # Remember unanswered callers so they fail at once if this process exits.
        held = self._otp_held
        if held is None:
            held = self._otp_held = set()
        held.add(caller)
        caller._future.add_done_callback(lambda _: held.discard(caller))

    def _otp_post(self, msg: tuple[int, Any, Any]) -> None:
        """Queue a cast or a plain message (a call queues itself: see `call`)."""
        if self._otp_state >= _EXITING:
            return
        if _instrumented:
            _posted(self, msg)
            return
        self._otp_deliver(msg)

    def _otp_request_stop(self, reason: object) -> None:
        """Ask for an orderly stop with `reason`, after the current message."""
        if self._otp_state < _STOPPING:
            self._otp_state = _STOPPING
            self._otp_exit_reason = reason
            self._otp_wake()

    def _otp_kill(self) -> None:
        """Cancel the process's task (see `_otp_run`); it takes on no new work from
        now."""
        self._otp_state = max(self._otp_state, _STOPPING)  # (states only move forward)
        task = self._otp_task
        if task is not None and not task.done():
            task.cancel()

    async def _otp_wait_exit(self, seconds: float | None) -> bool:
        task = self._otp_task
        if task is None or task.done():
            return True
        done, _ = await asyncio.wait((task,), timeout=seconds)
        return bool(done)

    def _otp_link(self, watcher: _Watcher) -> None:
        if self._otp_state is _EXITED:
            watcher._otp_process_exited(self, self._otp_exit_reason)
            return
        links = self._otp_links
        if links is None:
            self._otp_links = watcher
        elif isinstance(links, dict):
            links[watcher] = None
        else:
            self._otp_links = {links: None, watcher: None}

    def _otp_unlink(self, watcher: _Watcher) -> None:
        links = self._otp_links
        if links is watcher:
            self._otp_links = None
        elif isinstance(links, dict):
            # a dict, not a list: thousands of monitors come and go
            links.pop(watcher, None)
            if not links:
                # (a dict keeps its size after a peak; let it go)
                self._otp_links = None

    def _otp_exit(self, reason: object, *, report: bool) -> None:
        """Everything that happens once the process is gone, in one synchronous step."""
        self._otp_state = _EXITED
        self._otp_exit_reason = reason
        if report and not is_normal(reason) and reason != KILLED:
            exc_info, repeat = None, ""
            if isinstance(reason, BaseException):
                exc_info, repeat = traceback_or_repeat(reason)
            log.error(
                "process %r exited with reason %r; last message: %s%s",
                self,
                reason,
                _describe(self._otp_current),
                repeat,
                exc_info=exc_info,
                extra=fields(self, reason=reason),
            )
        current, self._otp_current = self._otp_current, None
        # a call that got no reply
        if isinstance(current, Caller):
            current._fail(NoProcess(f"{self!r} exited with reason {reason!r}", reason))
        for msg in self._otp_close():
            if isinstance(msg, Caller):
                msg._fail(NoProcess(f"{self!r} exited with reason {reason!r}", reason))
        held, self._otp_held = list(self._otp_held or ()), None
        for caller in held:  # the deferred callers
            if isinstance(caller, Caller):
                caller._fail(NoProcess(f"{self!r} exited with reason {reason!r}", reason))
        name = self._otp_name
        if self._otp_registry is not None:
            self._otp_registry._drop(name, self)
        elif isinstance(name, str):
            names = _local_names(self._otp_loop)
            if names.get(name) is self:
                del names[name]
        if self._otp_regs is not None:
            for registry, key in self._otp_regs:
                registry._drop(key, self)
            self._otp_regs = None
        timers, self._otp_timers = self._otp_timers, None
        if timers is not None:
            timers.cancel()
        deadlines, self._otp_deadlines = self._otp_deadlines, None
        if deadlines is not None:  # (it has no call left to time out)
            deadlines.processes.pop(id(self), None)
        if _instrumented:  # (observed: its statistics go too)
            _exited_instrumented(self)
        for ref in held:  # the monitors
            if isinstance(ref, MonitorRef):
                ref._cancel()
        links, self._otp_links = self._otp_links, None
        for watcher in links if isinstance(links, dict) else (links,) if links else ():
            try:
                watcher._otp_process_exited(self, reason)
            except Exception:  # a broken watcher must not stop the others hearing of it
                log.exception("%r: exit notification to %r failed", self, watcher)


def _describe(message: object) -> str:
    if isinstance(message, Caller):
        return f"call {message._request!r}"
    if type(message) is tuple:
        kind, payload, _ = message
        return f"{('call', 'cast', 'info')[kind]} {payload!r}"
    if type(message) is Continue:
        return f"continue {message.arg!r}"
    return "none"
