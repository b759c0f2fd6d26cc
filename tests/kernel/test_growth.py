"""Unbounded growth: a service runs for months, so nothing may pile up per operation.

Each test does many operations that must leave nothing behind (monitors of exited
watchers, per-timeout call bookkeeping, closed event loops, a process's last message,
a stopped process's timers) and checks it with weak references or tracemalloc, not
timing. Every test but the loop ones runs on looptime's fake clock: timers of any length
fire at once, and a hang fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from otp import Caller, Down, GenServer

pytestmark = pytest.mark.looptime(idle_timeout=2)


class Echo(GenServer):
    """Replies with the request; records the messages it gets."""

    async def init(self) -> None:
        self.infos: list[Any] = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request

    async def handle_cast(self, msg: Any) -> None:
        self.infos.append(msg)

    async def handle_info(self, msg: Any) -> None:
        self.infos.append(msg)


class Watcher(GenServer):
    """Monitors `target` from init and carries some state, like a real session would."""

    async def init(self, target: GenServer | asyncio.Task[Any]) -> None:
        self.state = bytearray(1_000)
        self.ref = self.monitor(target)
        self.downs: list[Down] = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request

    async def handle_info(self, msg: Any) -> None:
        self.downs.append(msg)


def dead(refs: list[weakref.ref[Any]]) -> bool:
    gc.collect()
    return all(ref() is None for ref in refs)


# 1. A monitor goes with the process that holds it.


async def test_watchers_that_exit_leave_nothing_in_the_target_they_monitored() -> None:
    target = await Echo.start()
    refs = []
    for _ in range(2_000):
        watcher = await Watcher.start(target)
        refs.append(weakref.ref(watcher))
        await watcher.stop()
    del watcher
    assert target._links is None  # its monitor table is empty again
    assert dead(refs)  # and nothing keeps the watchers (nor their state) alive
    await target.stop()


async def test_a_killed_watcher_also_leaves_nothing_behind() -> None:
    target = await Echo.start()
    watcher = await Watcher.start(target)
    ref = weakref.ref(watcher)
    watcher._kill()
    assert await watcher.wait_exit(1)
    del watcher
    assert target._links is None
    assert dead([ref])
    await target.stop()


async def test_watchers_of_a_task_are_detached_from_it_when_they_exit() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(never)
    refs = []
    for _ in range(100):
        watcher = await Watcher.start(task)
        refs.append(weakref.ref(watcher))
        await watcher.stop()
    del watcher
    assert dead(refs)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_long_lived_watcher_holds_no_monitor_of_targets_that_exited() -> None:
    anchor = await Echo.start()
    watcher = await Watcher.start(anchor)
    for _ in range(100):
        target = await Echo.start()
        watcher.monitor(target)  # (from outside its callbacks: fine for this test)
        await target.stop()
    await watcher.call("sync")  # the Downs are handled by now
    assert len(watcher.downs) == 100
    assert watcher._monitors == {watcher.ref}  # only the monitor still watching
    watcher.demonitor(watcher.ref)
    assert watcher._monitors is None
    assert anchor._links is None
    await watcher.stop()
    await anchor.stop()


async def test_a_watcher_still_hears_of_a_target_exit_after_others_exited() -> None:
    target = await Echo.start()
    gone = [await Watcher.start(target) for _ in range(3)]
    staying = await Watcher.start(target)
    for watcher in gone:
        await watcher.stop()
    await target.stop()
    await staying.call("sync")
    assert [(d.ref, d.reason, d.monitor) for d in staying.downs] == [
        (target, "normal", staying.ref)
    ]
    await staying.stop()


async def test_monitor_from_an_exited_process_holds_nothing() -> None:
    target = await Echo.start()
    watcher = await Echo.start()
    await watcher.stop()
    watcher.monitor(target)
    assert target._links is None
    assert watcher._monitors is None
    await target.stop()
