"""DynamicSupervisor: children started on demand, one_for_one, any number of them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from ._childspec import SUPERVISOR, ChildSpec, ChildType
from ._deadlines import _state_of
from ._errors import (
    AlreadyStarted,
    ChildNotFound,
    ChildSpecError,
    MaxChildren,
    NoProcess,
)
from ._genserver import _EXITED, _STARTING, _STOPPING, GenServer
from ._messages import SHUTDOWN, Caller, Stop, is_normal
from ._reports import fields
from ._shutdown import KILL_GRACE, await_killed, log_abandoned, shutdown_process
from ._supervisor import (
    ChildCounts,
    ChildInfo,
    RestartIntensity,
    check_start_result,
    needs_restart,
)

log = logging.getLogger(__package__ or "otp")


_UP: Final = object()  # a call that is answered once init has returned


@dataclass(frozen=True, slots=True)
class _Restart:
    spec: ChildSpec
    reason: object
    restarts: int  # how many times this child has been restarted, this one included


class DynamicSupervisor(GenServer):
    """Supervises children started at run time: one per user, session, connection.

    Use it with a Registry for named per-key processes (start them with
    `name=via(registry, key)`), so no single process holds everyone's state. For a fixed
    set of children known at startup, use Supervisor.

    Every child is independent (one_for_one). `max_children` caps how many may exist at
    once, counting children waiting to be restarted, and start_child raises MaxChildren
    past it: backpressure instead of unbounded growth. Restart intensity is counted over
    all children, as in Supervisor. On shutdown all children are stopped concurrently,
    each within its own shutdown budget.

    Unlike Elixir, start_child runs the child's start in the calling task, so one slow
    `init` does not hold up every other start; the child is adopted once it is running.
    Stopping waits for the starts under way and stops their children first, as in
    Elixir (bounded by their shutdown budgets plus KILL_GRACE).
    """

    __slots__ = (
        "_otp_children",
        "_otp_intensity",
        "_otp_max_children",
        "_otp_restarting",
        "_otp_restarting_supervisors",
        "_otp_restarts",
        "_otp_settled",
        "_otp_starting",
    )

    child_shutdown: ClassVar[float | None] = None
    child_type: ClassVar[ChildType] = SUPERVISOR

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Self:
        """`start(max_children=None, max_restarts=3, max_seconds=5.0, name=None)`."""
        return await super().start(*args, **kwargs)

    # Client API

    async def start_child(self, spec: ChildSpec) -> GenServer:
        """Start a child from `spec` and supervise it; returns the running child.

        Raises whatever the child's start raises (AlreadyStarted when its name is
        taken), MaxChildren when full, and NoProcess when the supervisor is not running.
        """
        if not isinstance(spec, ChildSpec):
            raise ChildSpecError(f"start_child needs a ChildSpec, got: {spec!r}")
        # (checked here too: a coroutine per start costs)
        if self._otp_state is _STARTING:
            await self._otp_until_up()
        task = self._otp_task  # (self._otp_accepting(), inlined)
        if self._otp_state >= _STOPPING or (task is not None and task.cancelling()):
            raise NoProcess(f"{self!r} is not running")
        limit = self._otp_max_children
        if limit is not None and self._size() + len(self._otp_starting) >= limit:
            raise MaxChildren(f"{self!r} already has its max_children={limit} children")
        starting = self._otp_starting
        starting.append(spec)
        try:
            process = await spec.start()
            if not isinstance(process, GenServer):
                check_start_result(spec, process)  # (raises)
            if self._otp_state >= _STOPPING or (task is not None and task.cancelling()):
                # Stopped meanwhile: its terminate waits for this (see _starts_settled).
                await shutdown_process(process, spec.shutdown, spec.id)
                raise NoProcess(f"{self!r} stopped while {spec.id!r} was starting")
        finally:
            starting.remove(spec)
            settled = self._otp_settled
            if not starting and settled is not None and not settled.done():
                settled.set_result(None)
        self._otp_children[process] = spec
        if process._otp_links is None and process._otp_state is not _EXITED:
            process._otp_links = self  # (process._otp_link(self), inlined)
        else:
            process._otp_link(self)
        return process

    async def terminate_child(self, process: GenServer) -> None:
        """Stop `process` within its shutdown budget; it is not restarted."""
        await self._otp_until_up()
        spec = self._otp_children.pop(process, None)
        if spec is None:
            raise ChildNotFound(f"{process!r} is not a child of {self!r}")
        if self._otp_restarts:
            self._otp_restarts.pop(process, None)
        process._otp_unlink(self)
        await shutdown_process(process, spec.shutdown, spec.id)

    async def which_children(self) -> list[ChildInfo]:
        """The running children (their ids are their specs' ids)."""
        await self._otp_until_up()
        return [
            ChildInfo(spec.id, process, spec.type, spec.restart)
            for process, spec in self._otp_children.items()
        ]

    async def count_children(self) -> ChildCounts:
        """Counts of children, as Elixir's: `active` is the running ones; `specs`,
        `supervisors` and `workers` also count the ones waiting to be restarted."""
        await self._otp_until_up()
        running_sups = sum(1 for spec in self._otp_children.values() if spec.type is SUPERVISOR)
        active = len(self._otp_children)
        specs = active + self._otp_restarting
        sups = running_sups + self._otp_restarting_supervisors
        return ChildCounts(specs, active, sups, specs - sups)

    async def _otp_until_up(self) -> None:
        # Found by name while it is starting (just restarted by its parent): wait for
        # its init, as a call to an Elixir process does. NoProcess if init fails.
        if self._otp_state is _STARTING:
            await self.call(_UP, timeout=None)
        try:
            self._otp_children  # noqa: B018  (set by init)
        except AttributeError:
            raise NoProcess(
                f"{self!r} is not running: its init never returned", self.exit_reason
            ) from None

    def _size(self) -> int:
        return len(self._otp_children) + self._otp_restarting

    # Server callbacks

    async def init(
        self,
        *,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> None:
        if max_children is not None and (
            isinstance(max_children, bool) or not isinstance(max_children, int) or max_children < 1
        ):
            raise ChildSpecError(f"max_children must be an int >= 1 or None, got: {max_children!r}")
        self._otp_max_children = max_children
        self._otp_intensity = RestartIntensity(max_restarts, max_seconds)
        self._otp_children: dict[GenServer, ChildSpec] = {}
        self._otp_restarting = 0  # children waiting to be restarted ...
        self._otp_restarting_supervisors = 0  # ... and how many of them are supervisors
        self._otp_starting: list[ChildSpec] = []  # specs whose start_child is under way
        # set once none is, when stopping
        self._otp_settled: asyncio.Future[None] | None = None
        # How many times each child that was ever restarted has been (the observer's;
        # children never restarted are not in it).
        self._otp_restarts: dict[GenServer, int] = {}
        _state_of(self._otp_loop).supervisors.add(self)  # (for the observer's roots)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request is _UP:
            return None
        return await super().handle_call(request, caller)

    async def handle_info(self, msg: Any) -> Stop | None:
        if type(msg) is not _Restart:
            await super().handle_info(msg)
            return None
        # a start that fails without awaiting must not starve the loop
        await asyncio.sleep(0)
        if not self._otp_intensity.add():
            return self._otp_intensity.give_up(self)
        spec = msg.spec
        try:
            process = check_start_result(spec, await spec.start())
        except AlreadyStarted as exc:
            # Someone started it again under its name while the restart waited (a
            # client's get-or-start): that one runs, so this restart has nothing left to
            # do.
            self._otp_restarted(spec)
            log.info("%r: child %r is running again already: %r", self, spec.id, exc.process)
            return None
        # any failure to start: logged with its traceback, retried
        except Exception as exc:
            log.error("%r: restarting child %r failed: %r", self, spec.id, exc, exc_info=exc)
            self.send(msg)  # still counted as restarting; tried again, within intensity
            return None
        self._otp_restarted(spec)
        self._otp_children[process] = spec
        self._otp_restarts[process] = msg.restarts
        process._otp_link(self)
        return None

    async def terminate(self, reason: object) -> None:
        children, self._otp_children = self._otp_children, {}
        self._otp_restarts = {}
        budgets: dict[float | None, list[tuple[GenServer, ChildSpec]]] = {}
        for process, spec in children.items():
            process._otp_unlink(self)
            budgets.setdefault(spec.shutdown, []).append((process, spec))
        try:
            await asyncio.gather(
                self._otp_starts_settled(), *(_stop_many(group, t) for t, group in budgets.items())
            )
        except BaseException:
            # Cancelled while waiting (killed): kill the rest rather than orphan them,
            # and exit only once they have, so whoever restarts us finds their names
            # free.
            for process in children:
                process._otp_kill()
            await await_killed((p, spec.id, spec.shutdown) for p, spec in children.items())
            raise

    async def _otp_starts_settled(self) -> None:
        """Wait until every start_child under way has returned and stopped its child.

        start_child runs the child's init in the caller's task. A child still in its
        init when this supervisor stops is its newest: it must stop before this
        supervisor exits, hence before its parent stops this supervisor's older siblings
        (as in OTP, where the supervisor itself runs the start). Its start_child sees
        that this supervisor no longer accepts children and stops it, terminate and all.
        Python cannot kill that init from here, so the wait is bounded: the children's
        shutdown budget plus KILL_GRACE (forever if a budget is None); past it, this is
        logged and the child is stopped whenever its init returns.
        """
        if not self._otp_starting:
            return
        budgets = [spec.shutdown for spec in self._otp_starting]
        bound = None if None in budgets else max(b for b in budgets if b is not None) + KILL_GRACE
        settled = self._otp_settled = self._otp_loop.create_future()
        await asyncio.wait((settled,), timeout=bound)
        if not settled.done():
            log.error(
                "%r: %d child(ren) still starting %ss after the shutdown began: "
                "exiting "
                "without them; each is stopped when its init returns",
                self,
                len(self._otp_starting),
                bound,
            )

    def _otp_process_exited(self, process: GenServer, reason: object) -> None:
        # Runs in the exiting child's task; the slot stays taken until it is restarted.
        spec = self._otp_children.pop(process, None)
        if spec is None:
            return
        restarts = self._otp_restarts.pop(process, 0) if self._otp_restarts else 0
        if needs_restart(spec.restart, reason) and self._otp_accepting():
            if not is_normal(reason):
                log.warning(
                    "%r: child %r exited with %r; restarting",
                    self,
                    spec.id,
                    reason,
                    extra=fields(self, spec.id, reason),
                )
            self._otp_restarting += 1
            if spec.type is SUPERVISOR:
                self._otp_restarting_supervisors += 1
            self.send(_Restart(spec, reason, restarts + 1))

    def _otp_restarted(self, spec: ChildSpec) -> None:
        # The restart of `spec` is over (it runs, or another process holds its name).
        self._otp_restarting -= 1
        if spec.type is SUPERVISOR:
            self._otp_restarting_supervisors -= 1


async def _stop_many(children: list[tuple[GenServer, ChildSpec]], shutdown: float | None) -> None:
    """Stop processes concurrently, like shutdown_process on each."""
    if len(children) == 1:
        process, spec = children[0]
        await shutdown_process(process, shutdown, spec.id)
        return
    ids = {
        p._otp_task: spec.id
        for p, spec in children
        if p._otp_task is not None and not p._otp_task.done()
    }
    if not ids:
        return
    tasks = list(ids)
    if shutdown == 0:
        for p, _ in children:
            p._otp_kill()
    else:
        for p, _ in children:
            p._otp_request_stop(SHUTDOWN)
        _, pending = await asyncio.wait(tasks, timeout=shutdown)
        if not pending:
            return
        for task in pending:
            task.cancel()
        tasks = list(pending)
    _, stuck = await asyncio.wait(tasks, timeout=KILL_GRACE)
    for task in stuck:
        log_abandoned(task, ids[task], shutdown)
