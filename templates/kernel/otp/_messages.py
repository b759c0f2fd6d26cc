"""What processes say to each other: exit reasons, callback returns, callers, monitors.

These are plain values (frozen dataclasses, or small handles) that user code returns
from callbacks, receives in `handle_info`, or compares an exit reason against. The
process that interprets them is in `_genserver`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from math import inf
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._genserver import GenServer

# Exit reasons. Any other object (usually the exception that ended the process) is a
# crash.
NORMAL: Final = "normal"
"""The process finished its work: not a crash, a transient child is not restarted."""
SHUTDOWN: Final = "shutdown"
"""Stopped by its supervisor (or `stop(SHUTDOWN)`): an orderly exit, not a crash."""
KILLED: Final = "killed"
"""Cancelled: a brutal kill, a shutdown budget run out, or an outside cancel."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """An orderly exit with a detail, like Erlang's `{shutdown, Term}`: not a crash."""

    detail: object


def is_normal(reason: object) -> bool:
    """Whether `reason` is orderly (normal, shutdown, Shutdown(...)), not a crash.

    A transient child is restarted only when this is false.
    """
    return reason in (NORMAL, SHUTDOWN) or type(reason) is Shutdown


# What a callback may return to steer the loop.


@dataclass(frozen=True, slots=True)
class Continue:
    """Return it from `init` or a handler: `handle_continue(arg)` runs first."""

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

    # `GenServer.call` fills these slots itself, without running `__init__` (a Python
    # frame less on every call): a slot added here must be filled there too.
    __slots__ = ("_deadline", "_future", "_request", "task")

    def __init__(
        self,
        future: asyncio.Future[Any],
        task: asyncio.Task[Any] | None,
        deadline: float = inf,
        request: object = None,
    ) -> None:
        self._future = future
        self.task = task
        # when the call times out, in the loop's time (see _deadlines)
        self._deadline = deadline
        # (the Caller is the call's message in the mailbox: see _mailbox)
        self._request = request

    def reply(self, value: object) -> None:
        """Answer the call. A caller that timed out or was cancelled gets nothing."""
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
        """Whether the caller still waits for the reply (not timed out, not gone)."""
        return not self._future.done()


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
    """What `GenServer.monitor` returns; pass it to `demonitor` to stop watching."""

    __slots__ = ("_target", "_watcher")

    def __init__(self, watcher: GenServer, target: GenServer | asyncio.Task[Any]) -> None:
        self._watcher = watcher
        self._target = target

    def _otp_process_exited(self, process: GenServer, reason: object) -> None:
        self._watcher._otp_forget_monitor(self)
        self._watcher.send(Down(process, reason, self))

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._watcher._otp_forget_monitor(self)
        self._watcher.send(Down(task, task_exit_reason(task), self))

    def _cancel(self) -> None:
        """Detach from the target, which then holds neither this ref nor the watcher."""
        target = self._target
        if isinstance(target, asyncio.Future):  # a task (or a future used as one)
            target.remove_done_callback(self._task_done)
        else:
            target._otp_unlink(self)

    def __repr__(self) -> str:
        return f"<MonitorRef {self._target!r}>"


def task_exit_reason(task: asyncio.Task[Any]) -> object:
    """A finished task's exit reason: NORMAL, KILLED (cancelled) or its exception."""
    if task.cancelled():
        return KILLED
    return task.exception() or NORMAL
