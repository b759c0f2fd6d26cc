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

from . import _deadlines
from ._deadlines import _loops, _LoopState, _state_of
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


def _stamp(table: dict[GenServer, Any], process: GenServer) -> None:
    """Note the arrival time of the message just queued for `process`."""
    stats = table.get(process)
    if stats is None:
        stats = table[process] = _Stats(_queued(process) - 1)
    stats.times.append(process._otp_loop.time())


def exited(process: GenServer) -> None:
    """`process` has exited: its statistics go with it (the table holds it)."""
    state = _loops.get(weakref.ref(process._otp_loop))
    if state is not None and state.stats is not None:
        state.stats.pop(process, None)


def _state(process: GenServer) -> _LoopState | None:
    """The kernel's table of the process's loop; made now if the loop is new to the
    kernel while hooks for every loop are installed."""
    loop = process._otp_loop
    state = _loops.get(weakref.ref(loop))
    if state is None and _deadlines._every_loop_hooks is not None:
        state = _state_of(loop)
    return state


def _hooks_of(state: _LoopState) -> Any:
    """The hooks to run: those of every loop, the loop's own, or both as one."""
    every = _deadlines._every_loop_hooks
    if every is None:
        return state.hooks
    if state.hooks is None or state.hooks is every:
        return every
    return _Both(every, state.hooks)


class _Pair:
    """The tokens (or states) of two hooks objects run as one."""

    __slots__ = ("first", "second")

    def __init__(self, first: object, second: object) -> None:
        self.first = first
        self.second = second


class _Both:
    """The hooks of every loop and a loop's own, run as one object: each gets its own
    token and state back, the loop's own `on_handled` first (the reverse of
    `on_handle`, so a context one of them entered is left in order)."""

    __slots__ = ("first", "second")

    def __init__(self, first: Any, second: Any) -> None:
        self.first = first
        self.second = second

    def on_call(self, process: GenServer, request: object) -> object:
        first = _run_hook(self.first.on_call, process, request)
        return _Pair(first, _run_hook(self.second.on_call, process, request))

    def on_cast(self, process: GenServer, msg: object) -> object:
        first = _run_hook(self.first.on_cast, process, msg)
        return _Pair(first, _run_hook(self.second.on_cast, process, msg))

    def on_handle(
        self,
        process: GenServer,
        kind: str,
        msg: object,
        token: object,
    ) -> object:
        # (a message queued before both were installed carries no pair: no tokens)
        tokens = token if type(token) is _Pair else _Pair(None, None)
        first = _run_hook(self.first.on_handle, process, kind, msg, tokens.first)
        second = _run_hook(self.second.on_handle, process, kind, msg, tokens.second)
        return _Pair(first, second)

    def on_handled(
        self,
        process: GenServer,
        state: object,
        error: BaseException | None,
    ) -> None:
        states = state if type(state) is _Pair else _Pair(None, None)
        _run_hook(self.second.on_handled, process, states.second, error)
        _run_hook(self.first.on_handled, process, states.first, error)


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
    state = _state(process)
    if state is None:
        return
    hooks = _hooks_of(state)
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
    state = _state(process)
    hooks = _hooks_of(state) if state is not None else None
    if hooks is not None and msg[0] == _CAST:
        msg = (_CAST, msg[1], _run_hook(hooks.on_cast, process, msg[1]))
    process._otp_deliver(msg)
    if state is not None and state.stats is not None:
        _stamp(state.stats, process)


async def handle(
    process: GenServer, msg: Message | Continue, work: Coroutine[Any, Any, Any]
) -> Any:
    """Run a callback (`work`, for `msg`) with the loop's statistics and hooks."""
    state = _state(process)
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
    hooks = _hooks_of(state) if taken else None
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
