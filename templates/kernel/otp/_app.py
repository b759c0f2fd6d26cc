"""The application entry point: run a supervision tree until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Sequence

from . import _shutdown
from ._childspec import ONE_FOR_ONE, ChildSpec, Strategy
from ._errors import StartChildError
from ._messages import SHUTDOWN
from ._supervisor import Supervisor

log = logging.getLogger(__package__ or "otp")


async def serve(
    children: Sequence[ChildSpec],
    *,
    strategy: Strategy = ONE_FOR_ONE,
    max_restarts: int = 3,
    max_seconds: float = 5.0,
) -> int:
    """Start a root Supervisor over `children`, wait for its end; return an exit status.

    SIGTERM and SIGINT stop the tree: children in reverse start order, each within its
    shutdown budget, also while the tree is still starting (the children already started
    are stopped; the one in its `init` is cancelled). Returns 0 after such a stop, 1
    when a child failed to start or the root supervisor gave up (too many restarts).
    """
    loop = asyncio.get_running_loop()
    requested: list[str] = []
    root: Supervisor | None = None
    starting = loop.create_task(
        Supervisor.start(
            children, strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds
        ),
        name="otp application start",
    )

    def on_signal(signame: str) -> None:
        requested.append(signame)
        if len(requested) == 1:
            log.info("%s received; stopping the application", signame)
        else:  # a second Ctrl-C: whoever sends it does not want to wait
            log.warning("%s received again: forcing the stop, killing what still runs", signame)
        if root is not None and len(requested) == 1:
            root._otp_request_stop(SHUTDOWN)
        elif root is not None:  # stopping already: kill it (nothing if it has exited)
            root._otp_kill()
        elif not starting.done():
            # Still starting: cancelling the start stops the children already started,
            # in reverse order, and returns once they have exited; cancelling it again
            # kills the one being stopped.
            starting.cancel()

    # Installed before the tree starts: a signal during startup stops it in order too.
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        try:
            root = await starting
        except StartChildError as exc:
            log.error("application failed to start: %s", exc)
            return 1
        except asyncio.CancelledError:
            this = asyncio.current_task()
            if starting.done() and not starting.cancelled() and not starting.exception():
                # The start was done when this task was cancelled, before it resumed:
                # the tree runs, and no one else will stop it.
                root = starting.result()
                root._otp_request_stop(SHUTDOWN)
                await root._otp_wait_exit(None)
            elif requested and (this is None or this.cancelling() == 0):
                if len(requested) > 1:
                    log.error("application stopped by force while starting")
                    return 1
                log.info("application stopped while starting")
                return 0
            raise
        if requested:  # a signal came as the start finished
            root._otp_request_stop(SHUTDOWN)
        log.info("application started with %d children; ready", len(children))
        try:
            await root._otp_wait_exit(None)
        finally:
            if root.alive:  # we were cancelled: still stop the tree in order
                root._otp_request_stop(SHUTDOWN)
                await root._otp_wait_exit(None)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    if requested and root.exit_reason == SHUTDOWN:
        log.info("application stopped")
        return 0
    if len(requested) > 1:
        log.error("application stopped by force: some children's cleanup was cut short")
        return 1
    log.error("application root supervisor exited: %r", root.exit_reason)
    return 1


def run(
    children: Sequence[ChildSpec],
    *,
    strategy: Strategy = ONE_FOR_ONE,
    max_restarts: int = 3,
    max_seconds: float = 5.0,
) -> int:
    """Run the application in a new event loop; `sys.exit(run(children))` in `__main__`.

    Configures basic logging unless logging is already configured, at the level named by
    the environment variable OTP_LOG_LEVEL (default INFO; DEBUG shows every child
    started and stopped). OTP_LOG_FORMAT=json writes one JSON object a line instead of
    text, with the process, child and exit reason of a report as fields of their own.
    """
    level = getattr(logging, os.environ.get("OTP_LOG_LEVEL", "INFO").upper(), logging.INFO)
    if os.environ.get("OTP_LOG_FORMAT", "").lower() == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # What asyncio.run() does, but for its end: it waits for every task left to finish
    # its cancellation, for ever, so a child that swallowed its CancelledError (which
    # its supervisor abandoned) would keep the service from exiting.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(
            serve(children, strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds)
        )
    finally:
        try:
            _cancel_the_rest(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_the_rest(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks still on `loop` and wait for them, as `asyncio.run` does, but
    KILL_GRACE seconds at most, and not at all for those a supervisor has abandoned."""
    pending = asyncio.all_tasks(loop)
    if not pending:
        return
    for task in pending:
        task.cancel()
    waiting = pending.difference(_shutdown.abandoned)
    if waiting:
        loop.run_until_complete(asyncio.wait(waiting, timeout=_shutdown.KILL_GRACE))
    for task in pending:
        if task.done() and not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
    for task in pending:
        if not task.done():  # said here or by its supervisor: not again as it is freed
            task._log_destroy_pending = False  # type: ignore[attr-defined]
    left = [task for task in waiting if not task.done()]  # (the others were logged)
    if left:
        log.error(
            "%d task(s) still running after their cancellation (they swallowed their "
            "CancelledError): left behind so that the application can exit: %r",
            len(left),
            left,
        )


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the kernel's fields of the
    record (process, child, reason; see `fields`) and the traceback, if any. For log
    collectors that index fields rather than parse text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key.startswith("otp_"):
                entry[key[4:]] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=repr)
