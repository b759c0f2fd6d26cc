"""Supervisor: starts children in order, restarts by strategy, stops in reverse."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NamedTuple, Self

from ._childspec import (
    ONE_FOR_ALL,
    ONE_FOR_ONE,
    PERMANENT,
    SUPERVISOR,
    TEMPORARY,
    TRANSIENT,
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
)
from ._deadlines import _state_of
from ._errors import (
    AlreadyPresent,
    AlreadyStarted,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildSpecError,
    OTPError,
    StartChildError,
)
from ._genserver import GenServer
from ._messages import NOREPLY, Caller, Shutdown, Stop, is_normal
from ._reports import fields
from ._shutdown import await_killed, shutdown_process
from ._steps import _next_turn

log = logging.getLogger(__package__ or "otp")

MAX_RESTARTS_REACHED: Final = Shutdown("reached_max_restart_intensity")
"""The exit reason of a supervisor that gave up after too many restarts."""


class ChildInfo(NamedTuple):
    """A row of `which_children()`: `process` is None while the child is not running."""

    id: Hashable
    process: GenServer | None
    type: ChildType
    restart: Restart


class ChildCounts(NamedTuple):
    """What `count_children()` returns."""

    specs: int
    active: int
    supervisors: int
    workers: int


@dataclass(frozen=True, slots=True)
class _ChildExit:
    process: GenServer
    reason: object


@dataclass(frozen=True, slots=True)
class _RetryRestart:
    child: _Child


class _Child:
    __slots__ = ("pending", "process", "restarts", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.process: GenServer | None = None
        self.pending = False  # a restart was attempted and failed; it will be retried
        # how many times this supervisor restarted it (shown by the observer)
        self.restarts = 0


def needs_restart(restart: Restart, reason: object) -> bool:
    """Whether a child of this restart type is restarted after exiting with `reason`."""
    return restart is PERMANENT or (restart is TRANSIENT and not is_normal(reason))


class RestartIntensity:
    """At most `max_restarts` restarts in any `max_seconds` window, per supervisor."""

    __slots__ = ("_otp_loop", "_times", "max_restarts", "max_seconds")

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ChildSpecError(f"max_restarts must be an int >= 0, got: {max_restarts!r}")
        if (
            isinstance(max_seconds, bool)
            or not isinstance(max_seconds, int | float)
            or max_seconds <= 0
        ):
            raise ChildSpecError(f"max_seconds must be a number > 0, got: {max_seconds!r}")
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._times: deque[float] = deque()
        self._otp_loop = asyncio.get_running_loop()

    def within_window(self) -> int:
        """How many restarts the current window holds (for the observer)."""
        now = self._otp_loop.time()
        return sum(1 for t in self._times if now - t < self.max_seconds)

    def add(self) -> bool:
        """Record one restart; False when it is one too many for the window."""
        now = self._otp_loop.time()
        times = self._times
        times.append(now)
        while now - times[0] >= self.max_seconds:
            times.popleft()
        return len(times) <= self.max_restarts

    def give_up(self, supervisor: GenServer) -> Stop:
        """Log that `supervisor` reached its limit; the Stop it returns to exit with."""
        log.error(
            "%r: reached max restart intensity (%d restarts in %ss); shutting down",
            supervisor,
            self.max_restarts,
            self.max_seconds,
            extra=fields(supervisor, reason=MAX_RESTARTS_REACHED),
        )
        return Stop(MAX_RESTARTS_REACHED)


def check_start_result(spec: ChildSpec, process: object) -> GenServer:
    if not isinstance(process, GenServer):
        what = f"ChildSpec {spec.id!r}: start"
        raise ChildSpecError(f"{what} must return the started process, got: {process!r}")
    return process


class Supervisor(GenServer):
    """Starts children in order, restarts the ones that exit, and stops them in reverse.

    Always supervise processes: a supervised one comes back in a known-good state after
    a crash. Children start in list order, each once the previous one's `init` returned,
    and stop in reverse order, each given its `shutdown` budget before it is cancelled.

    strategy: ONE_FOR_ONE restarts only the crashed child (independent children);
    ONE_FOR_ALL restarts all of them (tightly coupled); REST_FOR_ONE restarts the
    crashed child and those started after it (later ones depend on earlier ones). As in
    OTP, a group restart also starts the group's stopped children (terminate_child, or a
    transient child's normal exit) and drops its temporary ones.

    Restart intensity: more than `max_restarts` restarts within `max_seconds`, counted
    over all children of this supervisor, and it stops its children and exits with
    MAX_RESTARTS_REACHED, handing the problem to its own supervisor.

        sup = await Supervisor.start(
            [Cache.child_spec(name="cache"), Sessions.child_spec(name="sessions")],
            strategy=ONE_FOR_ONE, max_restarts=3, max_seconds=5.0,
        )

    Nest supervisors to separate restart domains: `Supervisor.child_spec([...],
    name="workers")` (or `dataclasses.replace(spec, id=...)` to give a spec another id).
    """

    __slots__ = ("_otp_by_process", "_otp_children", "_otp_intensity", "_otp_strategy")

    child_shutdown: ClassVar[float | None] = None
    child_type: ClassVar[ChildType] = SUPERVISOR

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Self:
        """`Supervisor.start(children, strategy=..., max_restarts=3, max_seconds=5.0,
        name=None)`: start every child in order, or fail with StartChildError and leave
        none running."""
        return await super().start(*args, **kwargs)

    # Client API

    async def start_child(self, spec: ChildSpec) -> GenServer:
        """Add `spec`, start it; StartChildError if the start fails (nothing kept)."""
        result: GenServer = await self._otp_api(("start_child", spec))
        return result

    async def terminate_child(self, child_id: Hashable) -> None:
        """Stop a child, or cancel its pending restart; its spec is kept unless it is
        temporary (restart_child, or a group restart, starts it again)."""
        await self._otp_api(("terminate_child", child_id))

    async def restart_child(self, child_id: Hashable) -> GenServer:
        """Start a stopped child again from its kept spec: ChildRunning if it runs,
        ChildRestarting if its failed restart is being retried."""
        result: GenServer = await self._otp_api(("restart_child", child_id))
        return result

    async def delete_child(self, child_id: Hashable) -> None:
        """Forget the spec of a stopped child: ChildRunning if it runs, ChildRestarting
        if its failed restart is being retried."""
        await self._otp_api(("delete_child", child_id))

    async def which_children(self) -> list[ChildInfo]:
        """Every child, in start order."""
        result: list[ChildInfo] = await self._otp_api(("which_children", None))
        return result

    async def count_children(self) -> ChildCounts:
        """How many specs, running children, supervisors and workers there are."""
        result: ChildCounts = await self._otp_api(("count_children", None))
        return result

    async def _otp_api(self, request: tuple[str, object]) -> Any:
        return await self.call(request, timeout=None)

    # Server callbacks

    async def init(
        self,
        children: Iterable[ChildSpec],
        *,
        strategy: Strategy = ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> None:
        if not isinstance(strategy, Strategy):
            known = "ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE"
            raise ChildSpecError(f"strategy must be one of {known}, got: {strategy!r}")
        self._otp_strategy = strategy
        self._otp_intensity = RestartIntensity(max_restarts, max_seconds)
        self._otp_children: list[_Child] = []
        _state_of(self._otp_loop).supervisors.add(self)  # (for the observer's roots)
        self._otp_by_process: dict[GenServer, _Child] = {}
        seen: set[Hashable] = set()
        if not isinstance(children, Iterable):
            raise ChildSpecError(f"children must be an iterable of ChildSpec, got: {children!r}")
        for spec in children:
            if not isinstance(spec, ChildSpec):
                raise ChildSpecError(f"children must be ChildSpec objects, got: {spec!r}")
            if spec.id in seen:
                raise ChildSpecError(f"two children have the id {spec.id!r}; ids must be unique")
            seen.add(spec.id)
            self._otp_children.append(_Child(spec))
        for child in self._otp_children:
            try:
                await self._otp_start(child)
            except BaseException as exc:
                await self._otp_stop_all()
                if isinstance(exc, Exception):
                    raise StartChildError(child.spec.id, exc) from exc
                raise

    async def handle_call(self, request: tuple[str, Any], caller: Caller) -> Any:
        op, arg = request
        try:
            if op == "start_child":
                return await self._otp_api_start_child(arg)
            if op == "terminate_child":
                return await self._otp_api_terminate_child(arg)
            if op == "restart_child":
                return await self._otp_api_restart_child(arg)
            if op == "delete_child":
                return self._otp_api_delete_child(arg)
            if op == "which_children":
                return [
                    ChildInfo(c.spec.id, c.process, c.spec.type, c.spec.restart)
                    for c in self._otp_children
                ]
            if op == "count_children":
                active = sum(1 for c in self._otp_children if c.process is not None)
                sups = sum(1 for c in self._otp_children if c.spec.type is SUPERVISOR)
                return ChildCounts(
                    len(self._otp_children), active, sups, len(self._otp_children) - sups
                )
        except OTPError as exc:  # the caller's mistake: it raises there, the supervisor goes on
            caller.fail(exc)
            return NOREPLY
        raise ValueError(f"unknown supervisor request {request!r}")

    async def handle_info(self, msg: Any) -> Stop | None:
        if type(msg) is _ChildExit:
            return await self._otp_child_exited(msg.process, msg.reason)
        if type(msg) is _RetryRestart:
            # A start that fails without awaiting would otherwise retry in a tight loop
            # that starves every other task until the intensity runs out.
            await asyncio.sleep(0)
            child = msg.child
            if child.pending and child.process is None and child in self._otp_children:
                return await self._otp_restart(child)
            return None
        await super().handle_info(msg)
        return None

    async def terminate(self, reason: object) -> None:
        await self._otp_stop_all()

    # Restarting

    def _otp_process_exited(self, process: GenServer, reason: object) -> None:
        # Called in the exiting child's task: queue it so exits are handled in order.
        self.send(_ChildExit(process, reason))

    async def _otp_child_exited(self, process: GenServer, reason: object) -> Stop | None:
        child = self._otp_by_process.pop(process, None)
        if child is None:  # stopped by us or replaced meanwhile: nothing to do
            return None
        child.process = None
        if not needs_restart(child.spec.restart, reason):
            if child.spec.restart is TEMPORARY:
                self._otp_children.remove(child)
            return None
        if not is_normal(reason):
            log.warning(
                "%r: child %r exited with %r; restarting",
                self,
                child.spec.id,
                reason,
                extra=fields(self, child.spec.id, reason),
            )
        # Let other tasks run first: a child that crashes as soon as it has started
        # (without awaiting) would otherwise be restarted in a tight loop that starves
        # them all until the intensity runs out.
        await _next_turn()
        return await self._otp_restart(child)

    async def _otp_restart(self, child: _Child) -> Stop | None:
        if not self._otp_intensity.add():
            return self._otp_intensity.give_up(self)
        children = self._otp_children
        if self._otp_strategy is ONE_FOR_ONE:
            group = [child]
        else:
            # As OTP's supervisor does, the group is every child from the first one
            # (ONE_FOR_ALL) or from the exited one (REST_FOR_ONE), running or not: a
            # child stopped by terminate_child, or a transient one that exited normally,
            # starts again with the others. Only temporary children are dropped, never
            # restarted.
            first = 0 if self._otp_strategy is ONE_FOR_ALL else children.index(child)
            group = children[first:]
        for c in reversed(group):
            if c.process is not None:
                await self._otp_terminate(c)
            if c.spec.restart is TEMPORARY:
                children.remove(c)
        group = [c for c in group if c in children]
        for c in group:
            c.pending = True
            c.restarts += 1
        for c in group:
            try:
                await self._otp_start(c)
            # any failure to start: logged with its traceback, retried
            except Exception as exc:
                log.error("%r: restarting child %r failed: %r", self, c.spec.id, exc, exc_info=exc)
                self.send(_RetryRestart(c))
                return None
            c.pending = False
        return None

    # Starting and stopping children

    async def _otp_start(self, child: _Child) -> GenServer:
        process = check_start_result(child.spec, await child.spec.start())
        child.process = process
        self._otp_by_process[process] = child
        process._otp_link(self)
        log.debug("%r: started child %r: %r", self, child.spec.id, process)
        return process

    async def _otp_terminate(self, child: _Child) -> None:
        process = child.process
        if process is None:
            return
        child.process = None
        del self._otp_by_process[process]
        process._otp_unlink(self)
        log.debug("%r: stopping child %r: %r", self, child.spec.id, process)
        try:
            await shutdown_process(process, child.spec.shutdown, child.spec.id)
        except BaseException:
            # We were cancelled meanwhile (killed): kill it too, and exit only once it
            # has, so whoever restarts us finds its name free.
            process._otp_kill()
            await await_killed([(process, child.spec.id, child.spec.shutdown)])
            raise

    async def _otp_stop_all(self) -> None:
        children = self._otp_children
        for index in range(len(children) - 1, -1, -1):
            try:
                await self._otp_terminate(children[index])
            except BaseException:
                # Cancelled while waiting: kill the rest rather than orphan them, and
                # wait until they have exited.
                killed = [
                    (c.process, c.spec.id, c.spec.shutdown)
                    for c in children[:index]
                    if c.process is not None
                ]
                for process, _, _ in killed:
                    process._otp_kill()
                await await_killed(killed)
                raise

    # The API, inside the supervisor

    def _otp_find(self, child_id: Hashable) -> _Child:
        for child in self._otp_children:
            if child.spec.id == child_id:
                return child
        raise ChildNotFound(f"{self!r} has no child {child_id!r}")

    async def _otp_api_start_child(self, spec: ChildSpec) -> GenServer:
        if not isinstance(spec, ChildSpec):
            raise ChildSpecError(f"start_child needs a ChildSpec, got: {spec!r}")
        for existing in self._otp_children:
            if existing.spec.id == spec.id:
                if existing.process is not None:
                    raise AlreadyStarted(spec.id, existing.process)
                raise AlreadyPresent(f"{self!r} already has a stopped child {spec.id!r}")
        child = _Child(spec)
        try:
            process = await self._otp_start(child)
        except Exception as exc:
            raise StartChildError(spec.id, exc) from exc
        self._otp_children.append(child)
        return process

    async def _otp_api_terminate_child(self, child_id: Hashable) -> None:
        child = self._otp_find(child_id)
        retried, child.pending = child.pending, False
        await self._otp_terminate(child)
        if child.spec.restart is TEMPORARY:
            self._otp_children.remove(child)
        if retried:
            # Its failed start stopped a group restart halfway, and the retry queued for
            # it (now dropped) was to start the rest of the group too: start them now.
            await self._otp_start_pending()

    async def _otp_start_pending(self) -> None:
        for c in self._otp_children:
            if c.pending and c.process is None:
                try:
                    await self._otp_start(c)
                except Exception as exc:  # as in _restart: logged, retried
                    log.error(
                        "%r: restarting child %r failed: %r", self, c.spec.id, exc, exc_info=exc
                    )
                    self.send(_RetryRestart(c))
                    return
                c.pending = False

    def _otp_find_stopped(self, child_id: Hashable) -> _Child:
        child = self._otp_find(child_id)
        if child.process is not None:
            raise ChildRunning(f"child {child_id!r} is running; terminate it first")
        if child.pending:
            raise ChildRestarting(
                f"child {child_id!r} is restarting (its restart failed and is "
                "retried); "
                "terminate it first"
            )
        return child

    async def _otp_api_restart_child(self, child_id: Hashable) -> GenServer:
        child = self._otp_find_stopped(child_id)
        try:
            process = await self._otp_start(child)
        except Exception as exc:
            raise StartChildError(child_id, exc) from exc
        return process

    def _otp_api_delete_child(self, child_id: Hashable) -> None:
        self._otp_children.remove(self._otp_find_stopped(child_id))
