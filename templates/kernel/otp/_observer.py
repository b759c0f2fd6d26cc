"""The observer: a snapshot of the live process tree, and instrumentation hooks.

`snapshot()` walks the supervision trees of the running loop and returns what each
process is doing: its parent, kind, status, restarts, mailbox length, memory. Serve it
from a health or observer endpoint (`/observer/api/tree` in a generated service), log
it when a service misbehaves, or assert on it in a test. It costs nothing until it is
called: the kernel keeps nothing per process for it but its start time.

`observe(True)` adds timing statistics (time spent in callbacks, age of the oldest
waiting message) at the price of a clock read per message and per arrival; leave it
off unless someone is looking. `instrument(hooks)` calls your hooks around every call,
cast and message (metrics, tracing spans). With neither switched on, a call, a cast and
a message each pay one flag check.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import sys
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Final, NamedTuple, Protocol, TypeAlias

from . import _deadlines, _genserver
from ._childspec import SUPERVISOR, WORKER, ChildSpec, class_of
from ._deadlines import _closed, _loops, _LoopState, _state_of
from ._dynamic import DynamicSupervisor, _Restart
from ._genserver import (
    _EXITED,
    _EXITING,
    _RUNNING,
    _STARTING,
    _STOPPING,
    GenServer,
)
from ._instrument import _Stats
from ._mailbox import _INFO
from ._messages import Caller, Continue
from ._supervisor import RestartIntensity, Supervisor, needs_restart
from ._tasks import TaskSupervisor
from ._timers import _Timers

_SIZE_OF_MESSAGE: Final = sys.getsizeof((0, None, None))
_CALLBACKS: Final = ("handle_call", "handle_cast", "handle_info")
_CONTAINERS: Final = frozenset({list, dict, set, frozenset, tuple, deque, bytearray})
_getsizeof: Final = sys.getsizeof
_referents: Final = gc.get_referents
_first: Final = itemgetter(0)
_PARENTS: Final = (Supervisor, DynamicSupervisor)


class Hooks(Protocol):
    """What `instrument()` calls around messages: metrics, tracing spans.

    `on_call` runs in the calling task as a call is queued and `on_cast` in the
    casting task; what they return (a token: a tracing context, a start time) travels
    with the message. In the server, `on_handle` runs before the callback with that
    token (None for plain messages) and returns a state, and `on_handled` runs after
    it with that state and the exception the callback raised (None if it returned).
    `kind` is "call", "cast" or "info". Hooks run on every message: keep them cheap,
    and never await. A hook that raises is logged; the message is handled anyway.
    """

    def on_call(self, process: GenServer, request: object) -> object:
        """In the calling task, as a call to `process` is queued: the call's token."""
        ...

    def on_cast(self, process: GenServer, msg: object) -> object:
        """In the casting task, as a cast to `process` is queued: the cast's token."""
        ...

    def on_handle(self, process: GenServer, kind: str, msg: object, token: object) -> object:
        """In `process`, before its callback for `msg` ("call", "cast" or "info"; the
        token is None for "info"): a state for `on_handled`."""
        ...

    def on_handled(self, process: GenServer, state: object, error: BaseException | None) -> None:
        """In `process`, after the callback: what `on_handle` returned, and what the
        callback raised (None if it returned)."""
        ...


class Intensity(NamedTuple):
    """A supervisor's restart intensity: restarts within the current window."""

    restarts: int
    max_restarts: int
    max_seconds: float


class ProcessInfo(NamedTuple):
    """One process of a snapshot (see `Snapshot.as_dict` for what each field means).

    `cls` is the class name (`"class"` in the dict form).
    """

    id: str
    parent: str | None
    name: str | None
    child_id: str | None
    cls: str | None
    kind: str
    status: str
    strategy: str | None
    restarts: int
    intensity: Intensity | None
    mailbox: int
    oldest_age: float | None
    handler_time: float
    current: str | None
    uptime: float
    memory: int


class ChildrenSummary(NamedTuple):
    """What a snapshot taken with a `limit` tells of a supervisor's children when it
    left some of them out: totals over ALL its children, the shown ones included,
    read without describing the hidden ones (`Snapshot.summaries`).
    """

    children: int
    """How many children it has, those waiting to be restarted included."""
    shown: int
    """How many of them are in `Snapshot.processes`."""
    mailbox: int
    """Messages waiting in their mailboxes, all together."""
    backlogged: int
    """Children with at least one message waiting."""
    largest_mailbox: int
    """The longest mailbox of any child."""
    restarting: int
    """Children waiting to be restarted."""
    starting: int
    """Children still in their `init`."""
    stopping: int
    """Children asked to stop, or in their `terminate`."""
    restarts: int
    """Restarts of its children, all together (each child's `restarts`, summed)."""
    supervisors: int
    """Left-out children that are supervisors themselves (Supervisor or
    DynamicSupervisor): their own children are in neither `processes` nor
    `summaries`."""


# ProcessInfo(...) without the frame of its generated __new__ (once per process)
_new_info: Final = tuple.__new__

_KEYS: Final = tuple("class" if field == "cls" else field for field in ProcessInfo._fields)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The process tree at one moment: parents before children, children in start order.

    It holds no reference to a process: keep it, compare it, serve it.
    """

    taken_at: float
    """`time.time()` when the snapshot began."""
    processes: list[ProcessInfo]
    summaries: dict[str, ChildrenSummary] = field(default_factory=dict)
    """By supervisor id, for each supervisor some of whose children a `limit` left out
    of `processes`: what they add up to. Empty when nothing was left out."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict, version 1::

            {"version": 1, "taken_at": 1764650000.1, "processes": [{"id": "p7f..",
             "parent": None, "name": "inventory", "child_id": "inventory",
             "class": "Inventory", "kind": "worker", "status": "running",
             "strategy": None, "restarts": 0, "intensity": None, "mailbox": 0,
             "oldest_age": None, "handler_time": 0.0, "current": None,
             "uptime": 12.5, "memory": 1480}]}

        `kind` is "worker", "supervisor" or "dynamic" (DynamicSupervisor,
        TaskSupervisor); `status` "starting", "running", "stopping" or "restarting"
        (a child its supervisor is about to start again: id "<parent id>/<child id>",
        numbers 0 or null); `intensity` is a supervisor's {"restarts",
        "max_restarts", "max_seconds"}; `current` the callback running now, or null;
        `handler_time` (seconds in callbacks) and `oldest_age` (seconds the oldest
        waiting message has waited) are counted only while `observe(True)`;
        `memory` is an estimate in bytes (the process, its containers, its mailbox).

        `"summaries"` (always there; {} when a snapshot left nothing out) maps the id
        of each supervisor some of whose children a `limit` left out to its
        `ChildrenSummary` as a dict: {"children", "shown", "mailbox", "backlogged",
        "largest_mailbox", "restarting", "starting", "stopping", "restarts",
        "supervisors"}, totals over all its children.
        """
        processes = []
        for info in self.processes:
            entry: dict[str, Any] = dict(zip(_KEYS, info, strict=True))
            if info.intensity is not None:
                entry["intensity"] = info.intensity._asdict()
            processes.append(entry)
        summaries = {pid: summary._asdict() for pid, summary in self.summaries.items()}
        return {
            "version": 1,
            "taken_at": self.taken_at,
            "processes": processes,
            "summaries": summaries,
        }


def observe(on: bool) -> None:
    """Collect timing statistics for the running loop's processes, or stop.

    While on, every message records its arrival time and every callback its running
    time (`handler_time` and `oldest_age` in a snapshot); that is a clock read or two
    per message, so switch it on while an observer page or a diagnosis needs it, and
    off after. Switching off drops the statistics; switching on again starts from 0
    (messages already waiting have no known age until they are taken).
    """
    state = _state_of(_running_loop("observe"))
    if on and state.stats is None:
        state.stats = {}
    elif not on:
        state.stats = None
    _refresh()


def instrument(hooks: Hooks | None) -> None:
    """Install `hooks` for the running loop's processes (None removes them).

    Called outside a running loop, as in an application's `main()` before `otp.run`,
    it installs them for every event loop instead (None removes them), where they run
    beside the loop's own, each with its own tokens: tracing installed in `main()`
    and a child's call-latency hooks both see every message. One hooks object per
    loop, and one for every loop: installing replaces the previous one. Use it for
    call-latency metrics or tracing (a span per call whose context travels as the
    token, so the server's span is a child of the caller's). Without hooks, a call or
    a message pays one flag check for this.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # main(), before otp.run: for every loop
        _deadlines._set_every_loop_hooks(hooks)
    else:
        _state_of(loop).hooks = hooks
    _refresh()


def snapshot(
    root: GenServer | None = None,
    *,
    depth: int | None = None,
    limit: int | None = None,
    by_handler_time: bool = False,
) -> Snapshot:
    """The tree under `root`, or every tree of the running loop: its root supervisors
    and its unsupervised processes with a local name. `depth` stops the walk that many
    levels down (1: the roots alone; 2: the roots and their children, what a readiness
    probe needs); None: the whole tree.

    `limit` shows at most that many children of each supervisor (None: all of them),
    those that need attention first: restarting, then starting or stopping, then the
    longest mailboxes, then the most restarts; then the others in start order, up to
    `limit`. Shown children keep their start order. The rest are counted, not
    described: `Snapshot.summaries` holds the totals of each supervisor that left
    children out. Choosing is one pass over the children, far cheaper than describing
    them: a top-N view of a tree of 100,000 processes, every second.

    `by_handler_time` (while `observe(True)`) fills the rest by most time spent in
    callbacks before start order: the busiest processes. It reads every child's
    statistics, which costs several times the limited snapshot itself on a big tree
    (about 0.15 s against 0.05 s at 100,000 busy processes): ask for it when someone
    sorts by handler time, not on every refresh.

    It runs in one go: 5 to 7 µs of CPU per process described, so most of a second for
    100,000 processes without a `limit`, during which nothing else on the loop runs.
    For big trees served while the service works, use `snapshot_async`. A root still
    in its `init` is left out (it may be a child its supervisor is starting), and so
    is a process named only `via` a registry and started without a supervisor (pass
    either as `root`).
    """
    levels, most = _levels(depth), _limit(limit)
    taken_at = time.time()
    summaries: dict[str, ChildrenSummary] = {}
    walk = _walk(root, "snapshot", levels, most, summaries, by_handler_time)
    processes = list(walk)
    return Snapshot(taken_at, processes, summaries)


async def snapshot_async(
    root: GenServer | None = None,
    *,
    chunk: int = 2000,
    depth: int | None = None,
    limit: int | None = None,
    by_handler_time: bool = False,
) -> Snapshot:
    """`snapshot()`, yielding to the loop after every `chunk` processes.

    Each step blocks the loop for about `chunk` x 5 µs (10 to 15 ms at 2,000); lower
    `chunk` to block less, at the price of more turns. With a `limit`, choosing a
    supervisor's children is one step of its own (about 0.2 µs per child). What it
    shows is not one instant: processes that start or exit while it runs may be in it
    or not, and one that exits before its turn is left out.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1, got: {chunk!r}")
    levels, most = _levels(depth), _limit(limit)
    taken_at = time.time()
    processes: list[ProcessInfo] = []
    summaries: dict[str, ChildrenSummary] = {}
    count = 0
    walk = _walk(root, "snapshot_async", levels, most, summaries, by_handler_time)
    for info in walk:
        processes.append(info)
        count += 1
        if count == chunk:
            count = 0
            await asyncio.sleep(0)
    return Snapshot(taken_at, processes, summaries)


# Internals


def _running_loop(what: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(f"otp.{what}() needs a running event loop") from None


def _refresh() -> None:
    """Switch the kernel's one flag on while any open loop is observed or instrumented,
    or every loop is."""
    _genserver._set_instrumented(
        _deadlines._every_loop_hooks is not None
        or any(
            (state.stats is not None or state.hooks is not None) and not _closed(loop())
            for loop, state in list(_loops.items())
        )
    )


def _parent(process: GenServer) -> GenServer | None:
    """The supervisor that supervises `process` now, if any."""
    links = process._otp_links
    for watcher in links if isinstance(links, dict) else (links,) if links else ():
        if (
            isinstance(watcher, Supervisor) and process in getattr(watcher, "_otp_by_process", ())
        ) or (
            isinstance(watcher, DynamicSupervisor)
            and process in getattr(watcher, "_otp_children", ())
        ):
            return watcher
    return None


def _roots(loop: asyncio.AbstractEventLoop) -> list[GenServer]:
    state: _LoopState | None = _loops.get(weakref.ref(loop))
    if state is None:
        return []
    found: dict[GenServer, None] = {}
    for process in [*state.supervisors, *state.names.values()]:
        # (One still in its init may be a child its supervisor is starting: it is
        # shown once its init has returned, under its supervisor if it has one.)
        if _STARTING < process._otp_state < _EXITED and _parent(process) is None:
            found[process] = None
    return sorted(found, key=lambda p: p._otp_started)


# A child as the walk visits it: (parent id, child spec, restarts, the process, or None
# while it is restarting)
_Entry: TypeAlias = "tuple[str | None, ChildSpec | None, int, GenServer | None]"


class _Walk:
    """What one walk keeps: the loop's clock and statistics, and each class's facts."""

    __slots__ = ("classes", "loop", "now", "ranked", "table")

    def __init__(self, loop: asyncio.AbstractEventLoop, by_handler_time: bool) -> None:
        self.loop = loop
        self.now = loop.time()
        state = _loops.get(weakref.ref(loop))
        self.table = state.stats if state is not None else None
        # the statistics that rank children, when asked to (see `snapshot`)
        self.ranked = self.table if by_handler_time else None
        # class -> (its name, its kind, the size of one of its objects)
        self.classes: dict[type, tuple[str, str, int]] = {}

    def handler_times(self, processes: Iterable[GenServer]) -> list[float]:
        """Seconds each of `processes` spent in callbacks while observed (0.0 for one
        that did not)."""
        table = self.ranked
        if table is None:
            return [0.0 for _ in processes]
        now = self.now
        get = table.get
        return [
            0.0
            if (s := get(p)) is None
            else s.handler_time
            if s.busy_since is None
            else s.handler_time + now - s.busy_since
            for p in processes
        ]

    def spent(self, process: GenServer) -> float:
        """Seconds `process` has spent in callbacks while observed, for ranking it
        (0.0 when not, or when the walk does not rank by handler time)."""
        table = self.ranked
        stats: _Stats | None = table.get(process) if table is not None else None
        if stats is None:
            return 0.0
        if stats.busy_since is not None:
            return stats.handler_time + self.now - stats.busy_since
        return stats.handler_time

    def facts(self, cls: type, process: GenServer) -> tuple[str, str, int]:
        if issubclass(cls, Supervisor):
            kind = "supervisor"
        elif issubclass(cls, DynamicSupervisor | TaskSupervisor):
            kind = "dynamic"
        else:
            kind = "worker"
        found = self.classes[cls] = (cls.__qualname__, kind, _getsizeof(process))
        return found


def _levels(depth: int | None) -> int:
    if depth is None:
        return sys.maxsize
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an int >= 1 or None, got: {depth!r}")
    return depth


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be an int >= 0 or None, got: {limit!r}")
    return limit


def _walk(
    root: GenServer | None,
    what: str,
    levels: int,
    limit: int | None = None,
    summaries: dict[str, ChildrenSummary] | None = None,
    by_handler_time: bool = False,
) -> Iterator[ProcessInfo]:
    """The processes of the tree(s), parents first (depth first, in start order), at
    most `levels` levels down, at most `limit` children of each supervisor (the
    summaries of those that left some out go to `summaries`)."""
    if root is None:
        loop = _running_loop(what)
        roots = _roots(loop)
    else:
        if not isinstance(root, GenServer):
            raise TypeError(f"otp.{what}() root must be a GenServer or None, got: {root!r}")
        loop = root._otp_loop
        roots = [root]
    walk = _Walk(loop, by_handler_time)
    top: list[_Entry] = [(None, None, 0, r) for r in roots]
    stack = [iter(top)]
    count = 0
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        parent, spec, restarts, process = item
        if process is None:
            assert spec is not None
            assert parent is not None
            yield _restarting(parent, spec, restarts)
            continue
        if process._otp_state is _EXITED:
            continue
        count += 1
        if not count & 255:
            walk.now = loop.time()  # (the walk may have yielded to the loop meanwhile)
        info = _info(process, parent, spec, restarts, walk)
        yield info
        # (the stack holds one iterator per level above the children)
        if info.kind != "worker" and len(stack) < levels:
            if limit is None:
                stack.append(_children(process, info.id))
                continue
            chosen, summary = _choose(process, info.id, limit, walk)
            if summary is not None and summaries is not None:
                summaries[info.id] = summary
            stack.append(chosen)


def _children(process: GenServer, pid: str) -> Iterator[_Entry]:
    """A supervisor's children, from a copy taken at its first step (the walk may yield
    to the loop later). One entry at a time, each freed once the walk has read it: a
    list of 100,000 entries, each referring to a process, would live long enough for
    the garbage collector to scan the whole heap, again and again."""
    if isinstance(process, Supervisor):
        for child in list(getattr(process, "_otp_children", ())):
            child_process = child.process
            if child_process is not None and child_process._otp_state is _EXITED:
                # It exited and its supervisor has not handled that yet.
                if not needs_restart(child.spec.restart, child_process._otp_exit_reason):
                    continue
                child_process = None
            elif child_process is None and not child.pending:
                continue  # stopped (terminate_child), not restarting
            yield pid, child.spec, child.restarts, child_process
    elif isinstance(process, DynamicSupervisor):
        running = getattr(process, "_otp_children", None)
        if running is None:
            return
        processes, specs = list(running), list(running.values())
        waiting = list(process._otp_inbox or ())
        restarting = [
            msg[1]
            for msg in [process._otp_current, *waiting]
            if type(msg) is tuple and msg[0] == _INFO and type(msg[1]) is _Restart
        ]
        restarted = process._otp_restarts
        for index, child_process in enumerate(processes):
            yield pid, specs[index], restarted.get(child_process, 0), child_process
        for restart in restarting:
            yield pid, restart.spec, restart.restarts, None


# A child that may need attention, as `_choose` ranks it: (its key, the entry). The key
# is (restarting, starting or stopping, mailbox length, restarts, handler time, -start
# index): compared as tuples, the larger needs attention first, and the earlier started
# of two otherwise equal ones wins.
_Candidate: TypeAlias = "tuple[tuple[bool, bool, int, int, float, int], _Entry]"


def _choose(
    process: GenServer, pid: str, limit: int, walk: _Walk
) -> tuple[Iterator[_Entry], ChildrenSummary | None]:
    """At most `limit` of a supervisor's children, in start order, and the summary of
    them all when some are left out (None when none is).

    One pass over the children reads what costs nothing to read (state, mailbox,
    restart count, handler time) and keeps as candidates only those with something to
    show; `heapq.nlargest` picks among the candidates, and the first children in start
    order fill up the rest. The hidden children are never described.
    """
    if isinstance(process, DynamicSupervisor):
        running = getattr(process, "_otp_children", None)
        if running is None:
            return iter(()), None
        waiting = process._otp_inbox
        if len(running) + (len(waiting) if waiting else 0) + 1 <= limit:
            # (Every message may be a restart, and the current one too.)
            return _children(process, pid), None
        return _choose_dynamic(process, running, pid, limit, walk)
    entries = list(_children(process, pid))
    if len(entries) <= limit:
        return iter(entries), None
    return _choose_entries(entries, limit, walk)


def _choose_entries(
    entries: list[_Entry], limit: int, walk: _Walk
) -> tuple[Iterator[_Entry], ChildrenSummary | None]:
    """`_choose` for a list of entries (a Supervisor's children: seldom many)."""
    candidates: list[_Candidate] = []
    mailbox = backlogged = largest = restarting = starting = stopping = restarts = 0
    supervisors = 0
    for index, entry in enumerate(entries):
        _, _, count, child = entry
        restarts += count
        supervisors += _is_parent(entry)
        if child is None:
            restarting += 1
            candidates.append(((True, False, 0, count, 0.0, -index), entry))
            continue
        state = child._otp_state
        inbox = child._otp_inbox
        size = len(inbox) if inbox else 0
        if size:
            mailbox += size
            backlogged += 1
            largest = max(largest, size)
        if state is _STARTING:
            starting += 1
        elif state >= _STOPPING:
            stopping += 1
        spent = walk.spent(child)
        if state is not _RUNNING or size or count or spent:
            key = (False, state is not _RUNNING, size, count, spent, -index)
            candidates.append((key, entry))
    return _pick(
        enumerate(entries),
        candidates,
        limit,
        (len(entries), mailbox, backlogged, largest, restarting, starting, stopping, restarts),
        supervisors,
    )


def _choose_dynamic(
    process: DynamicSupervisor,
    running: dict[GenServer, ChildSpec],
    pid: str,
    limit: int,
    walk: _Walk,
) -> tuple[Iterator[_Entry], ChildrenSummary | None]:
    """`_choose` for a DynamicSupervisor: a tight pass over its running children (it
    may have 100,000), then those waiting in its mailbox to be restarted.

    Reading a child costs a cache miss or two (100,000 processes do not fit in a
    cache): the pass reads each child's class, mailbox and state once, and nothing
    else of the children with nothing to show (not even their specs). Handler time
    (while observed) ranks last: it is read only when the others leave room, and then
    only the busiest that fit become candidates (a candidate per child would be
    100,000 tuples for the garbage collector to scan, again and again)."""
    restarted = process._otp_restarts
    candidates: list[_Candidate] = []
    mailbox = backlogged = largest = starting = stopping = restarts = exited = 0
    parents = 0
    plain: type = GenServer  # the last class seen that has no children of its own
    up = _RUNNING
    for index, child in enumerate(running):
        if type(child) is not plain:
            if isinstance(child, _PARENTS):
                parents += 1
            else:
                plain = type(child)
        inbox = child._otp_inbox
        if child._otp_state is up and not inbox and not (restarted and child in restarted):
            continue  # (most children: running, idle, never restarted)
        state = child._otp_state
        if state is _EXITED:
            # It exited and its supervisor has not handled that yet.
            exited += 1
            parents -= isinstance(child, _PARENTS)
            continue
        size = len(inbox) if inbox else 0
        if size:
            mailbox += size
            backlogged += 1
            largest = max(largest, size)
        if state is _STARTING:
            starting += 1
        elif state >= _STOPPING:
            stopping += 1
        count = restarted.get(child, 0) if restarted else 0
        restarts += count
        spent = walk.spent(child)
        key = (False, state is not _RUNNING, size, count, spent, -index)
        candidates.append((key, (pid, running[child], count, child)))
    need = limit - len(candidates)
    if need > 0 and running and walk.ranked:
        # Room left: the busiest of the others (start order breaks ties), found with
        # a sort of their handler times rather than a tuple for each of them.
        times = walk.handler_times(running)
        for key, _ in candidates:
            times[-key[-1]] = 0.0  # (chosen before any of these)
        floor = sorted(times, reverse=True)[min(need, len(times)) - 1]
        busiest = [index for index, spent in enumerate(times) if spent > floor]
        if floor:
            ties = [index for index, spent in enumerate(times) if spent == floor]
            busiest += ties[: need - len(busiest)]
        started = list(running) if busiest else []
        for index in busiest:
            child = started[index]
            if child._otp_state is not _EXITED:
                key = (False, False, 0, 0, times[index], -index)
                candidates.append((key, (pid, running[child], 0, child)))
    end = len(running)
    restarting = 0
    current = process._otp_current
    for msg in [current, *(process._otp_inbox or ())]:
        if type(msg) is tuple and msg[0] == _INFO and type(msg[1]) is _Restart:
            restart: _Restart = msg[1]
            restarts += restart.restarts
            entry: _Entry = (pid, restart.spec, restart.restarts, None)
            parents += _is_parent(entry)
            key = (True, False, 0, restart.restarts, 0.0, -(end + restarting))
            candidates.append((key, entry))
            restarting += 1
    children = end - exited + restarting
    if children <= limit:
        return _children(process, pid), None

    def in_start_order() -> Iterator[tuple[int, _Entry]]:
        for index, (child, spec) in enumerate(running.items()):
            if child._otp_state is not _EXITED:
                yield index, (pid, spec, 0, child)

    return _pick(
        in_start_order(),
        candidates,
        limit,
        (children, mailbox, backlogged, largest, restarting, starting, stopping, restarts),
        parents,
    )


def _is_parent(entry: _Entry) -> bool:
    """Whether a child is a supervisor with children a walk would show: a Supervisor
    or DynamicSupervisor (one restarting: as its spec says, if its class is unknown).
    """
    _, spec, _, child = entry
    if child is not None:
        return isinstance(child, _PARENTS)
    assert spec is not None
    known = class_of(spec)
    if known is not None:
        return issubclass(known, _PARENTS)
    return spec.type is SUPERVISOR


def _pick(
    in_order: Iterator[tuple[int, _Entry]],
    candidates: list[_Candidate],
    limit: int,
    totals: tuple[int, int, int, int, int, int, int, int],
    supervisors: int,
) -> tuple[Iterator[_Entry], ChildrenSummary]:
    """The `limit` candidates that need attention most, filled up to `limit` with the
    first children of `in_order` (start index, entry) that are not candidates (when
    every candidate is chosen), in start order; and the summary. `supervisors`
    counts the children that are supervisors, shown or not."""
    chosen = heapq.nlargest(limit, candidates, key=_first)
    shown = [(-key[-1], entry) for key, entry in chosen]
    need = limit - len(shown)
    if need > 0:
        # Every candidate was chosen: the rest are the first of the others.
        taken = {index for index, _ in shown}
        for index, entry in in_order:
            if need == 0:
                break
            if index not in taken:
                shown.append((index, entry))
                need -= 1
    shown.sort(key=_first)
    for _, entry in shown:
        supervisors -= _is_parent(entry)
    children, mailbox, backlogged, largest, restarting, starting, stopping, restarts = totals
    summary = ChildrenSummary(
        children, len(shown), mailbox, backlogged, largest, restarting, starting,
        stopping, restarts, supervisors,
    )  # fmt: skip
    return iter([entry for _, entry in shown]), summary


def _restarting(parent: str, spec: ChildSpec, restarts: int) -> ProcessInfo:
    known = class_of(spec)
    kind = "worker" if spec.type is WORKER else "supervisor"
    if known is not None and issubclass(known, DynamicSupervisor | TaskSupervisor):
        kind = "dynamic"
    cls = known.__qualname__ if known is not None else None
    child_id = str(spec.id)
    return ProcessInfo(
        f"{parent}/{child_id}", parent, None, child_id, cls, kind, "restarting",
        None, restarts, None, 0, None, 0.0, None, 0.0, 0,
    )  # fmt: skip


def _info(
    process: GenServer,
    parent: str | None,
    spec: ChildSpec | None,
    restarts: int,
    walk: _Walk,
) -> ProcessInfo:
    now = walk.now
    facts = walk.classes.get(type(process))
    if facts is None:
        facts = walk.facts(type(process), process)
    cls, kind, size = facts
    state = process._otp_state
    current: str | None = None
    if state is _STARTING:
        status = "starting"
        current = "init"
    else:
        status = "running" if state < _STOPPING else "stopping"
        message = process._otp_current
        if state is _EXITING:
            current = "terminate"
        elif isinstance(message, Caller):
            current = "handle_call"
        elif type(message) is tuple:
            current = _CALLBACKS[message[0]]
        elif type(message) is Continue:
            current = "handle_continue"
    name = process._otp_name
    registry = process._otp_registry
    if registry is not None:
        name = f"{registry.name or 'registry'}:{name}"
    strategy: str | None = None
    intensity: Intensity | None = None
    if kind != "worker":
        if isinstance(process, Supervisor):
            found = getattr(process, "_otp_strategy", None)
            strategy = found.value if found is not None else None
            intensity = _intensity(getattr(process, "_otp_intensity", None))
        elif isinstance(process, DynamicSupervisor):
            strategy = "one_for_one"
            intensity = _intensity(getattr(process, "_otp_intensity", None))
    inbox = process._otp_inbox
    mailbox = len(inbox) if inbox else 0
    oldest_age: float | None = None
    handler_time = 0.0
    table = walk.table
    if table is not None:
        stats: _Stats | None = table.get(process)
        if stats is not None:
            handler_time = stats.handler_time
            if stats.busy_since is not None:
                handler_time += now - stats.busy_since
            if mailbox and not stats.unknown and stats.times:
                oldest_age = now - stats.times[0]
    # The memory estimate: the process, the containers it holds (not what they hold in
    # turn), its waiting messages. Its referents, not its `__dict__`: reading that
    # would make a dict for every object that keeps its attributes inline (3.11+).
    memory = size + mailbox * _SIZE_OF_MESSAGE
    for value in _referents(process):
        if type(value) in _CONTAINERS:
            memory += _getsizeof(value)
        elif type(value) is _Timers:
            memory += _getsizeof(value) + _getsizeof(value._otp_timers)
    return _new_info(
        ProcessInfo,
        (
            f"p{id(process):x}",
            parent,
            name,
            str(spec.id) if spec is not None else None,
            cls,
            kind,
            status,
            strategy,
            restarts,
            intensity,
            mailbox,
            oldest_age,
            handler_time,
            current,
            now - process._otp_started,
            memory,
        ),
    )


def _intensity(intensity: RestartIntensity | None) -> Intensity | None:
    if intensity is None:
        return None
    return Intensity(intensity.within_window(), intensity.max_restarts, intensity.max_seconds)
