"""Per-loop kernel tables, and call deadlines with no bookkeeping per call.

A call with a timeout needs a deadline, and asyncio's way (a TimerHandle per call, or
`asyncio.timeout`) costs a heap push and a cancellation per call; so does any table of
pending calls that each call must join and leave. Here a call writes its deadline into
its Caller, which the process holds anyway (in its mailbox, as its current message, or
among its deferred callers) until the call is answered, and one timer per loop visits
the processes that may have calls pending when the earliest deadline comes.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from math import inf
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._genserver import GenServer

# The deadline of a call that waits forever.
NEVER: Final = inf


class _LoopState:
    """What the kernel keeps per event loop: its local names, its call deadlines, its
    supervisors (to find the roots of its trees) and its observer settings.

    It never refers to its loop (nor does anything it holds once the loop's processes
    have exited and its calls have returned), so a closed loop is freed, its table too.
    """

    __slots__ = ("deadlines", "hooks", "names", "stats", "supervisors")

    def __init__(self) -> None:
        self.names: dict[str, GenServer] = {}
        self.deadlines = _Deadlines()
        # Every supervisor started on the loop (a supervisor's start is rare; a
        # worker's start adds nothing here), held weakly.
        self.supervisors: weakref.WeakSet[GenServer] = weakref.WeakSet()
        # `otp.instrument(hooks)` in the loop (see _observer); those installed
        # outside any loop run beside them
        self.hooks: Any = None
        # While `otp.observe(True)`: each process's message statistics (a plain
        # dict, so a snapshot reads it without touching the processes: the entry of
        # a process goes when it exits); None while nobody observes.
        self.stats: dict[GenServer, Any] | None = None


# Keyed by a weak reference to the loop (a plain dict: `whereis` is looked up often, and
# a WeakKeyDictionary costs ten times as much). Tables of dead or closed loops are
# dropped when another loop adds its table.
_loops: dict[weakref.ref[asyncio.AbstractEventLoop], _LoopState] = {}
_new_loop_lock = threading.Lock()  # loops in other threads add their tables too

# The hooks `otp.instrument(hooks)` installed outside a running loop (the application's
# main(), before `otp.run` starts its loop): they run in every loop, beside the loop's
# own.
_every_loop_hooks: Any = None


def _set_every_loop_hooks(hooks: Any) -> None:
    global _every_loop_hooks
    _every_loop_hooks = hooks


def _state_of(loop: asyncio.AbstractEventLoop) -> _LoopState:
    state = _loops.get(weakref.ref(loop))
    if state is None:
        with _new_loop_lock:
            # (A loop closed with processes still registered, without cancelling its
            # tasks, would be kept by them through its own table: dropped here too.)
            for key in [key for key in _loops if _closed(key())]:
                del _loops[key]
            state = _loops[weakref.ref(loop)] = _LoopState()
    return state


def _closed(loop: asyncio.AbstractEventLoop | None) -> bool:
    return loop is None or loop.is_closed()


def _local_names(loop: asyncio.AbstractEventLoop) -> dict[str, GenServer]:
    """The local names registered on `loop` (each loop has its own)."""
    return _state_of(loop).names


class _Expired(Exception):
    """Set on a call's future when its timeout has passed; `call` raises CallTimeout."""


class _Deadlines:
    """The call deadlines of one loop: one timer, and the processes it visits.

    A call with a timeout stores its deadline in its Caller, adds its process to
    `processes` if it is not there yet, and arms the timer if its deadline is earlier
    than `due`: a few attribute reads per call, and nothing to undo when it returns.
    When the timer fires, `_sweep` asks each of these processes to fail its overdue
    calls (`GenServer._otp_expire_calls`), drops the ones with no timed call pending,
    and arms the timer for the earliest deadline left.

    So an answered call leaves nothing here (its Caller goes with its message), and a
    process stays in `processes` at most until the next sweep after its last timed call
    was answered; a process that exits leaves at once (`GenServer._otp_exit`). A sweep
    visits every process with timed calls pending: cheap when their mailboxes are short,
    and it comes about once per timeout length when calls are answered in time.
    """

    __slots__ = ("due", "processes")

    def __init__(self) -> None:
        # Keyed by id(): a subclass may define __eq__ (and so be unhashable).
        self.processes: dict[int, GenServer] = {}
        # When the armed sweep fires (NEVER: none is armed). No TimerHandle is kept: it
        # refers to the loop, and this table must not (see _LoopState).
        self.due = NEVER

    def watch(self, process: GenServer) -> None:
        """Visit `process` at the sweeps from now on (it has a timed call pending)."""
        self.processes[id(process)] = process
        process._otp_deadlines = self

    def arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Sweep at `deadline`, earlier than `due`. (A sweep armed before, for later,
        still fires: it sees that it is not the one `due` is for and does nothing.)"""
        self.due = deadline
        loop.call_at(deadline, self._sweep, loop, deadline)

    def _sweep(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if when != self.due:
            return  # superseded by a sweep armed for earlier
        self.due = NEVER
        now = loop.time()
        earliest = NEVER
        processes = self.processes
        for key, process in list(processes.items()):
            next_deadline = process._otp_expire_calls(now)
            if next_deadline == NEVER:
                del processes[key]
                process._otp_deadlines = None
            elif next_deadline < earliest:
                earliest = next_deadline
        if earliest < self.due:  # (a call may have armed one meanwhile)
            self.arm(loop, earliest)


def _deadlines_of(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    """The call deadlines of `loop`."""
    return _state_of(loop).deadlines
