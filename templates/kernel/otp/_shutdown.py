"""How a supervisor stops its children: a shutdown budget, then a kill, then a grace."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from ._childspec import SUPERVISOR
from ._messages import SHUTDOWN
from ._reports import fields

if TYPE_CHECKING:
    from ._genserver import GenServer

log = logging.getLogger(__package__ or "otp")


KILL_GRACE: Final = 5.0
"""Seconds a cancelled child gets to exit before a supervisor abandons it (it swallowed
its CancelledError: Python cannot kill a task, but the tree must still stop)."""


# The tasks abandoned so far (held weakly): `run` does not wait for them a second time
# when it closes its loop.
abandoned: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()


def log_abandoned(what: object, child_id: object, shutdown: float | None) -> None:
    """Log loudly that `what` (a process or task) ignored its cancellation."""
    task = getattr(what, "_otp_task", what)
    if isinstance(task, asyncio.Future):
        abandoned.add(task)
    log.error(
        "child %r (%r, shutdown budget %rs) still runs %ss after it was cancelled: it "
        "swallowed its CancelledError; abandoning it and going on",
        child_id,
        what,
        shutdown,
        KILL_GRACE,
        extra=fields(what, child_id),
    )


async def await_killed(killed: Iterable[tuple[GenServer, object, float | None]]) -> None:
    """Wait until killed processes, given as (process, child id, shutdown budget), have
    exited; the ones still running after KILL_GRACE seconds are logged and abandoned,
    but for supervisors (see `_outlasts_its_grace`)."""
    waiting = {
        p._otp_task: (p, child_id, budget)
        for p, child_id, budget in killed
        if p._otp_task is not None and not p._otp_task.done()
    }
    if not waiting:
        return
    _, stuck = await asyncio.wait(waiting, timeout=KILL_GRACE)
    trees = {task for task in stuck if _outlasts_its_grace(waiting[task][0])}
    for task in stuck - trees:
        log_abandoned(*waiting[task])
    if trees:
        await asyncio.wait(trees)


async def shutdown_process(
    process: GenServer, shutdown: float | None, child_id: object = None
) -> None:
    """Stop `process` the way a supervisor does and wait until it has exited.

    `shutdown` seconds for `terminate` to finish (None: wait forever), then
    cancellation; 0 cancels at once (brutal kill). A process still running KILL_GRACE
    seconds after its cancellation is logged as an error and abandoned (a supervisor
    is waited for to its end: see `_outlasts_its_grace`).
    """
    if shutdown == 0:
        process._otp_kill()
    else:
        process._otp_request_stop(SHUTDOWN)
        if await process._otp_wait_exit(shutdown):
            return
        child = process.name if child_id is None else child_id
        log.warning(
            "child %r overran its shutdown budget of %ss; killing it",
            child,
            shutdown,
            extra=fields(process, child),
        )
        process._otp_kill()
    if not await process._otp_wait_exit(KILL_GRACE):
        if _outlasts_its_grace(process):
            await process._otp_wait_exit(None)
        else:
            log_abandoned(process, process.name if child_id is None else child_id, shutdown)


def _outlasts_its_grace(process: GenServer) -> bool:
    """Whether a killed `process` is waited for past KILL_GRACE, to its end: a
    supervisor is. Killed, it kills its children and waits for them, each within its
    own grace, so its exit is bounded by theirs; abandoned at the same moment as a
    stubborn child of its own, it would leave that child's siblings stopping, their
    cleanup cut short. (So OTP gives supervisor children an infinite shutdown.)"""
    return process.child_type is SUPERVISOR


async def stop_cancelled_start(process: GenServer, name: object) -> None:
    """Stop a process whose `start` was cancelled as its `init` returned: in order, as
    its supervisor would, within its `child_shutdown`; killed if cancelled again
    meanwhile."""
    try:
        await shutdown_process(process, process.child_shutdown, name)
    except asyncio.CancelledError:
        process._otp_kill()
        await await_killed([(process, name, 0)])
