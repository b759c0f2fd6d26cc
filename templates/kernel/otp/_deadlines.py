"""Per-loop kernel tables and call deadlines: a timer per timeout length, not per call.

A call with a timeout needs a deadline, and asyncio's way (a TimerHandle per call, or
`asyncio.timeout`) costs a heap push and a cancellation per call. Calls with the same
timeout expire in the order they were made, so one FIFO per timeout length is already
sorted and one timer, armed for its oldest call, serves it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._genserver import GenServer


class _LoopState:
    """What the kernel keeps per event loop: its local names, its call deadlines, its
    supervisors (to find the roots of its trees) and its observer settings.

    It never refers to its loop (nor does anything it holds once the loop's processes
    have exited and its calls have returned), so a closed loop is freed, its table too.
    """

    __slots__ = ("deadlines", "hooks", "names", "stats", "supervisors")

    def __init__(self) -> None:
        self.names: dict[str, GenServer] = {}
        self.deadlines: dict[float, _Deadlines] = {}
        # Every supervisor started on the loop (a supervisor's start is rare; a
        # worker's start adds nothing here), held weakly.
        self.supervisors: weakref.WeakSet[GenServer] = weakref.WeakSet()
        # `otp.instrument(hooks)` (see _observer)
        self.hooks: Any = None
        # While `otp.observe(True)`: each process's message statistics, held by
        # weak key; None while nobody observes.
        self.stats: weakref.WeakKeyDictionary[GenServer, Any] | None = None


# Keyed by a weak reference to the loop (a plain dict: `whereis` is looked up often, and
# a WeakKeyDictionary costs ten times as much). Tables of dead or closed loops are
# dropped when another loop adds its table.
_loops: dict[weakref.ref[asyncio.AbstractEventLoop], _LoopState] = {}
_new_loop_lock = threading.Lock()  # loops in other threads add their tables too


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
        # a flag, not the TimerHandle, which would refer to the loop
        self._armed = False

    # `GenServer.call` appends (deadline, future) to `_queue` itself, and calls `_arm`
    # when the queue has no timer: that is on every call's path.

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Fire `_expire` at `deadline`, the oldest pending call's."""
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
        # Empty: leave the loop's table, so that a timeout used once is not kept
        # forever. (A process may still hold this queue as its last one: it keeps
        # working alone.)
        table = _state_of(loop).deadlines
        if table.get(self.timeout) is self:
            del table[self.timeout]


# How many timeout lengths get a shared queue per loop. Calls with yet other lengths (a
# request's remaining time budget, say) get a timer each, which asyncio frees as it
# goes.
_MAX_QUEUES: Final = 8


def _deadlines_for(loop: asyncio.AbstractEventLoop, timeout: float) -> _Deadlines | None:
    """The shared queue for `timeout` on `loop`, or None if there are too many."""
    table = _state_of(loop).deadlines
    found = table.get(timeout)
    if found is None and len(table) < _MAX_QUEUES:
        found = table[timeout] = _Deadlines(timeout)
    return found


def _expire_call(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(_Expired())
