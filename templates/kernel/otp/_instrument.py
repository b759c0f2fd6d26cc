"""The slow path of a message while a loop is observed or instrumented.

`GenServer` checks one module flag per call, cast and message; only when some loop has
`otp.observe(True)` or `otp.instrument(hooks)` does it come here. Nothing here runs,
and no process carries anything for it, while nobody observes.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from ._deadlines import _loops
from ._mailbox import _CALL, _CAST, Message
from ._messages import Caller, Continue

if TYPE_CHECKING:
    from ._genserver import GenServer

log = logging.getLogger(__package__ or "otp")

# What `Hooks.on_handle` is told a message is.
_KIND_NAMES: Final = ("call", "cast", "info")


class _Stats:
    """One process's message statistics while its loop is observed.

    `times` holds the arrival times of the waiting messages that arrived while
    observed, oldest first; `unknown` counts the older ones queued before (their age
    is unknown until they are taken).
    """

    __slots__ = ("busy_since", "handler_time", "times", "unknown")

    def __init__(self, unknown: int) -> None:
        self.handler_time = 0.0
        self.busy_since: float | None = None
        self.times: deque[float] = deque()
        self.unknown = unknown


class _TracedCaller(Caller):
    """A caller that carries the token `Hooks.on_call` returned in the calling task."""

    __slots__ = ("token",)

    def __init__(self, caller: Caller, token: object) -> None:
        Caller.__init__(self, caller._future, caller.task, caller._deadline, caller._request)
        self.token = token


def _queued(process: GenServer) -> int:
    inbox = process._otp_inbox
    return len(inbox) if inbox else 0


def _stamp(table: weakref.WeakKeyDictionary[GenServer, Any], process: GenServer) -> None:
    """Note the arrival time of the message just queued for `process`."""
    stats = table.get(process)
    if stats is None:
        stats = table[process] = _Stats(_queued(process) - 1)
    stats.times.append(process._otp_loop.time())


def _run_hook(hook: Any, *args: object) -> object:
    """A hook's result; a hook that raises is logged and its result is None (a broken
    hook must not fail the call, the cast or the process)."""
    try:
        return hook(*args)
    except Exception:
        log.exception("otp: instrumentation hook %r raised", hook)
        return None


def called(process: GenServer) -> None:
    """`_otp_call` queued a call for `process`: carry the caller's token, stamp it."""
    state = _loops.get(weakref.ref(process._otp_loop))
    if state is None:
        return
    hooks = state.hooks
    if hooks is not None:
        inbox = process._otp_inbox
        assert inbox
        caller = inbox[-1]  # (a call's message is its Caller: see _mailbox)
        assert isinstance(caller, Caller)
        token = _run_hook(hooks.on_call, process, caller._request)
        inbox[-1] = _TracedCaller(caller, token)
    if state.stats is not None:
        _stamp(state.stats, process)


def posted(process: GenServer, msg: tuple[int, Any, Any]) -> None:
    """Queue a cast or a plain message for `process`: carry the caster's token (in the
    cast's free third slot), stamp it."""
    state = _loops.get(weakref.ref(process._otp_loop))
    if state is not None and state.hooks is not None and msg[0] == _CAST:
        msg = (_CAST, msg[1], _run_hook(state.hooks.on_cast, process, msg[1]))
    process._otp_deliver(msg)
    if state is not None and state.stats is not None:
        _stamp(state.stats, process)


async def handle(
    process: GenServer, msg: Message | Continue, work: Coroutine[Any, Any, Any]
) -> Any:
    """Run a callback (`work`, for `msg`) with the loop's statistics and hooks."""
    state = _loops.get(weakref.ref(process._otp_loop))
    if state is None:
        return await work
    taken = type(msg) is not Continue  # (a message, not a continuation)
    stats: _Stats | None = None
    started = 0.0
    table = state.stats
    if table is not None:
        stats = table.get(process)
        if stats is None:
            stats = table[process] = _Stats(_queued(process))
        elif taken:
            if stats.unknown > 0:
                stats.unknown -= 1
            elif stats.times:
                stats.times.popleft()
        started = stats.busy_since = process._otp_loop.time()
    hooks = state.hooks if taken else None
    hook_state: object = None
    if hooks is not None:
        assert not isinstance(msg, Continue)
        if isinstance(msg, Caller):
            kind, payload = _CALL, msg._request
            token = msg.token if type(msg) is _TracedCaller else None
        else:
            kind, payload, extra = msg
            token = extra if kind == _CAST else None
        hook_state = _run_hook(hooks.on_handle, process, _KIND_NAMES[kind], payload, token)
    error: BaseException | None = None
    try:
        return await work
    except BaseException as exc:
        error = exc
        raise
    finally:
        if stats is not None:
            stats.handler_time += process._otp_loop.time() - started
            stats.busy_since = None
        if hooks is not None:
            _run_hook(hooks.on_handled, process, hook_state, error)
