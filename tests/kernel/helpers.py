"""Small processes and utilities shared by the supervisor, dynamic supervisor and chaos tests.

`Worker` records ("start", id) when its init returns and ("stop", id) when its terminate
finishes in a shared `events` list, so tests can assert start and stop order. It crashes,
stops or sleeps on request, from a call, a cast or a plain message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

import pytest
from otp import PERMANENT, ChildSpec, GenServer, NoProcess, Restart, Stop, Supervisor

Events = list[tuple[str, Hashable]]


class Boom(Exception):
    """The crash every test worker raises on request."""


class Worker(GenServer):
    ready = False  # set as init's last step: the process is then running (no await after)
    terminated_with: object = None  # the reason terminate was called with

    async def init(
        self,
        id: Hashable = "worker",
        events: Events | None = None,
        *,
        init_delay: float = 0.0,
        init_fails: bool = False,
        terminate_delay: float = 0.0,
        exit_after: tuple[float, object] | None = None,
    ) -> None:
        self.id = id
        self.events = events
        self.terminate_delay = terminate_delay
        if init_delay:
            await asyncio.sleep(init_delay)
        if init_fails:
            raise Boom(f"init of {id!r} failed")
        if exit_after is not None:
            delay, what = exit_after
            self.send_after(what, delay)
        if events is not None:
            events.append(("start", id))
        self.ready = True

    async def handle_call(self, request: Any, caller: Any) -> Any:
        if request == "ping":
            return ("pong", self.id)
        if isinstance(request, tuple) and request[0] == "sleep":
            await asyncio.sleep(request[1])
            return "slept"
        return self._act(request)

    async def handle_cast(self, msg: Any) -> Stop | None:
        return self._act(msg)

    async def handle_info(self, msg: Any) -> Stop | None:
        return self._act(msg)

    def _act(self, msg: Any) -> Stop:
        if msg == "crash":
            raise Boom(f"{self.id} crashed")
        if isinstance(msg, tuple) and msg[0] == "stop":
            return Stop(msg[1])
        raise AssertionError(f"unexpected message {msg!r}")

    async def terminate(self, reason: object) -> None:
        self.terminated_with = reason
        if self.terminate_delay:
            await asyncio.sleep(self.terminate_delay)
        if self.events is not None:
            self.events.append(("stop", self.id))


class Attempts:
    """Counts a spec's start attempts and decides which of them fail: `fail(n)` for attempt n."""

    def __init__(self, fail: Callable[[int], bool] = lambda n: False) -> None:
        self.fail = fail
        self.count = 0


def worker_spec(
    id: Hashable,
    events: Events | None = None,
    *,
    restart: Restart = PERMANENT,
    shutdown: float | None = 5.0,
    attempts: Attempts | None = None,
    **options: Any,
) -> ChildSpec:
    """A spec whose start runs `Worker.start(id, events, **options)`, failing as `attempts` says."""

    async def start() -> GenServer:
        if attempts is not None:
            attempts.count += 1
            if attempts.fail(attempts.count):
                raise Boom(f"start of {id!r} failed (attempt {attempts.count})")
        return await Worker.start(id, events, **options)

    return ChildSpec(id, start, restart=restart, shutdown=shutdown)


async def crash(process: GenServer, how: object = "crash") -> None:
    """Make `process` exit (a crash, or ("stop", reason)) and return once it has exited.

    The call fails with NoProcess in the same step as the exit notifies the supervisor, so a
    supervisor call made afterwards is handled after the supervisor has seen the exit.
    """
    with pytest.raises(NoProcess):
        await process.call(how)
    assert not process.alive


async def settle(sup: Supervisor, rounds: int = 5) -> None:
    """Let `sup` handle what is in its mailbox, including retries it sent itself."""
    for _ in range(rounds):
        await sup.count_children()


async def exited(process: GenServer, within: float = 5.0) -> None:
    """Wait until `process` has exited (fails the test after `within` seconds)."""
    assert await process.wait_exit(within), f"{process!r} did not exit within {within}s"


async def child(sup: Supervisor, child_id: Hashable) -> GenServer:
    """The running process of `child_id`."""
    for info in await sup.which_children():
        if info.id == child_id:
            assert info.process is not None, f"child {child_id!r} is not running"
            return info.process
    raise AssertionError(f"no child {child_id!r}")


def running_tasks(name: str = "Worker") -> list[asyncio.Task[Any]]:
    """Live tasks of processes of class `name`."""
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def stop_if_alive(*processes: GenServer) -> None:
    for process in processes:
        if process.alive:
            await process.stop()
