"""Unbounded growth: a service runs for months, so nothing may pile up per operation.

Each test does many operations that must leave nothing behind (monitors of exited
watchers, per-timeout call bookkeeping, closed event loops, a process's last message,
a stopped process's timers) and checks it with weak references or tracemalloc, not
timing. The async tests run on looptime's fake clock (timers of any length fire at once,
and a hang fails instead of hanging), except the soak, which runs on the real clock with
short timers only; the tests of event loops themselves are plain functions.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import tracemalloc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from otp import (
    NOREPLY,
    AlreadyStarted,
    Caller,
    CallTimeout,
    Down,
    GenServer,
    NoProcess,
    NoReply,
    Reply,
    Stop,
    _deadlines,
    whereis,
)

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


class Silent(GenServer):
    """Never replies: every call to it times out."""

    async def handle_call(self, request: Any, caller: Caller) -> NoReply:
        return NOREPLY


def dead(refs: list[weakref.ref[Any]]) -> bool:
    gc.collect()
    return all(ref() is None for ref in refs)


class Traced:
    """The bytes Python allocated (and still holds) since `start`, after collecting."""

    def __init__(self) -> None:
        gc.collect()
        self.baseline = tracemalloc.get_traced_memory()[0]

    def growth(self) -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - self.baseline


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def now() -> float:
    return asyncio.get_running_loop().time()


# 1. A monitor goes with the process that holds it.


async def test_watchers_that_exit_leave_nothing_in_the_target_they_monitored() -> None:
    target = await Echo.start()
    refs = []
    for _ in range(2_000):
        watcher = await Watcher.start(target)
        refs.append(weakref.ref(watcher))
        await watcher.stop()
    del watcher
    assert target._otp_links is None  # its monitor table is empty again
    assert dead(refs)  # and nothing keeps the watchers (nor their state) alive
    await target.stop()


async def test_a_killed_watcher_also_leaves_nothing_behind() -> None:
    target = await Echo.start()
    watcher = await Watcher.start(target)
    ref = weakref.ref(watcher)
    watcher._otp_kill()
    assert await watcher.wait_exit(1)
    del watcher
    assert target._otp_links is None
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
    assert watcher._otp_held == {watcher.ref}  # only the monitor still watching
    watcher.demonitor(watcher.ref)
    assert watcher._otp_held is None
    assert anchor._otp_links is None
    await watcher.stop()
    await anchor.stop()


async def test_demonitor_forgets_the_ref_in_the_process_that_holds_it() -> None:
    target = await Echo.start()
    watcher = await Watcher.start(target)
    target.demonitor(watcher.ref)  # through another process: the ref says whose it is
    assert watcher._otp_held is None
    assert target._otp_links is None
    await watcher.stop()
    await target.stop()


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
    assert target._otp_links is None
    assert watcher._otp_held is None
    await target.stop()


# 2. Call timeouts: nothing kept per call, nor per timeout length ever used.


def watched() -> dict[int, GenServer]:
    """The processes the loop's deadline sweep visits (see _deadlines)."""
    return _deadlines._state_of(asyncio.get_running_loop()).deadlines.processes


@pytest.mark.usefixtures("traced")
async def test_calls_with_ever_different_timeouts_leave_nothing_behind() -> None:
    server = await Echo.start()
    await server.call("warm up")
    memory = Traced()
    for i in range(20_000):  # the time left of a request's budget, say
        assert await server.call(i, timeout=1.0 + i / 1_000) == i
    assert memory.growth() < 64 * 1024  # was ~28 MB once: a queue per length, kept forever
    assert list(watched().values()) == [server]
    await asyncio.sleep(25)  # the longest timeout passes: a sweep finds nothing pending
    assert not watched()
    assert server._otp_deadlines is None
    await server.stop()


async def test_a_process_leaves_the_deadline_sweep_when_it_exits() -> None:
    server = await Silent.start()
    pending = asyncio.create_task(server.call("never answered", timeout=60))
    await asyncio.sleep(0)
    assert list(watched().values()) == [server]
    ref = weakref.ref(server)
    await server.stop()
    with pytest.raises(NoProcess):
        await pending  # at once, not at its deadline
    assert now() == 0
    assert not watched()
    del server, pending  # (the task's exception holds the call's frame, and the server)
    assert dead([ref])


async def test_every_timeout_length_still_times_out_on_time() -> None:
    server = await Silent.start()
    lengths = [0.5 + i / 10 for i in range(16)]
    started = now()

    async def timed_call(length: float) -> float:
        with pytest.raises(CallTimeout, match=rf"did not reply to {length!r} in {length}s"):
            await server.call(length, length)
        return now() - started

    assert await asyncio.gather(*(timed_call(t) for t in lengths)) == lengths
    await server.stop()


async def test_a_reply_that_comes_after_the_timeout_is_dropped() -> None:
    class Late(GenServer):
        async def handle_call(self, request: Any, caller: Caller) -> Any:
            await asyncio.sleep(request)
            return request

    server = await Late.start()
    lengths = [0.5 + i / 10 for i in range(9)]
    for timeout in lengths:
        with pytest.raises(CallTimeout):
            await server.call(timeout + 0.05, timeout)
    assert await server.call(0.0, 9.9) == 0.0  # each late reply was dropped
    await server.stop()


# 3. Event loops: each has its own table, and a closed loop is freed with it.


class Stays(GenServer):
    """Keeps a timer, a monitor and a name alive until the loop is torn down."""

    async def init(self, peer: GenServer) -> None:
        self.monitor(peer)
        self.send_after("tick", 3600)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request

    async def handle_info(self, msg: Any) -> None:
        pass


def test_a_closed_event_loop_and_its_processes_are_freed() -> None:
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    processes: list[weakref.ref[GenServer]] = []

    async def service() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        peer = await Echo.start(name="peer")
        stays = await Stays.start(peer, name="stays")
        processes.extend([weakref.ref(peer), weakref.ref(stays)])
        for timeout in (5.0, 1.0, None, 2.5):
            await stays.call("hello", timeout)
        await peer.call("hello")
        done = await Echo.start()
        await done.stop()  # one stopped, two still running when asyncio.run ends

    asyncio.run(service())
    asyncio.run(service())  # a second loop: the first one's table is not what frees it
    assert dead([*loops, *processes])


def test_a_loop_closed_with_processes_still_running_is_freed_once_another_starts() -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(Echo.start(name="abandoned"))
    loop.close()  # without cancelling the process: its table still holds it, and the loop
    ref = weakref.ref(loop)
    del loop

    async def next_service() -> None:
        server = await Echo.start(name="abandoned")  # a new loop: a table of its own
        await server.stop()

    asyncio.run(next_service())  # (also drops the tables of closed loops)
    assert dead([ref])


async def test_a_local_name_belongs_to_its_event_loop() -> None:
    mine = await Echo.start(name="shared")

    async def elsewhere() -> None:
        assert whereis("shared") is None  # not visible from another loop
        theirs = await Echo.start(name="shared")  # nor taken there
        assert whereis("shared") is theirs
        with pytest.raises(AlreadyStarted):
            await Echo.start(name="shared")
        await theirs.stop()

    await asyncio.to_thread(asyncio.run, elsewhere())
    assert whereis("shared") is mine
    await mine.stop()


# 4. An idle process holds nothing of its last message; a stopped one, no timer.


class Token:
    """A request or reply object a weak reference can watch."""


class Replies(GenServer):
    """Answers a call with a fresh object: plainly, with Reply(...), or later (NOREPLY)."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        how, _ = request
        if how == "later":
            caller.reply(Token())
            return NOREPLY
        return Reply(Token()) if how == "reply" else Token()

    async def handle_cast(self, msg: Any) -> None:
        pass

    async def handle_info(self, msg: Any) -> None:
        pass


@pytest.mark.parametrize("how", ["plain", "reply", "later"])
@pytest.mark.parametrize("seconds", [5.0, None])
async def test_an_idle_process_keeps_no_request_reply_or_calling_task(
    how: str, seconds: float | None
) -> None:
    server = await Replies.start()
    refs: list[weakref.ref[Any]] = []

    async def client() -> None:
        request = (how, Token())
        refs.append(weakref.ref(request[1]))
        reply = await server.call(request, seconds)
        refs.append(weakref.ref(reply))

    task = asyncio.create_task(client())
    await task
    refs.append(weakref.ref(task))
    del task
    await asyncio.sleep(0)  # (asyncio itself holds the task until the next turn of the loop)
    server.cast(Token())
    server.send(Token())
    assert dead(refs)
    assert server.alive
    await server.stop()


class Ticking(GenServer):
    """Sets a long timer, and resets it on every message, as an idle timeout does."""

    async def init(self) -> None:
        self.timer = self.send_after(Token(), 3600)

    async def handle_cast(self, msg: Any) -> None:
        self.timer.cancel()
        self.timer = self.send_after(Token(), 3600)

    async def handle_info(self, msg: Any) -> None:
        pass


async def test_a_stopped_process_cancels_its_pending_timers() -> None:
    process = await Ticking.start()
    process.send_after("from outside", 60)
    timer = process.timer
    ref = weakref.ref(process)
    await process.stop()
    del process
    assert timer.cancelled()
    assert dead([ref])  # no timer keeps it (nor its messages) until the timer fires


async def test_a_process_that_resets_a_timer_per_message_keeps_only_the_pending_one() -> None:
    process = await Ticking.start()
    for _ in range(10):
        process.send_after("soon", 0.5)
    await asyncio.sleep(1)  # these 10 have fired
    for _ in range(1_000):
        process.cast("activity")  # each cancels the pending timer and sets a new one
    await asyncio.sleep(0)  # (they are handled in one turn of the loop)
    assert process._otp_timers is not None
    assert len(process._otp_timers._otp_timers) <= 8  # of which 1 is pending
    await process.stop()


async def test_send_after_on_an_exited_process_holds_nothing() -> None:
    process = await Ticking.start()
    await process.stop()
    assert process.send_after("late", 60).cancelled()


# 5. The soak: all of it, many times over, and the memory comes back to where it was.


class Soaked(GenServer):
    """A long-lived server: answers calls, counts casts and messages, watches others."""

    async def init(self) -> None:
        self.casts = self.infos = self.downs = 0

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        kind, payload = request
        if kind == "monitor":
            return self.monitor(payload)
        if kind == "demonitor":
            self.demonitor(payload)
            return None
        return Token()  # a fresh reply; the request carries a payload of its own

    async def handle_cast(self, msg: Any) -> None:
        self.casts += 1

    async def handle_info(self, msg: Any) -> None:
        if type(msg) is Down:
            self.downs += 1
        else:
            self.infos += 1


class ShortLived(GenServer):
    """A session: monitors a server, sets timers, carries some state, and goes away."""

    async def init(self, server: GenServer, delay: float) -> None:
        self.state = bytearray(4_096)
        self.ref = self.monitor(server)
        self.send_after("soon", delay)  # fires during the round
        self.send_after("later", 3_600 + delay)  # still pending when it exits

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "demonitor":
            self.demonitor(self.ref)
        return request

    async def handle_cast(self, msg: Any) -> Stop:
        return Stop(msg)

    async def handle_info(self, msg: Any) -> None:
        pass


async def loop_of_its_own() -> None:
    """A short service in an event loop of its own, which closes at the end."""
    server = await Soaked.start(name="soaked")
    session = await ShortLived.start(server, 0.0)
    await server.call(("work", bytes(1_024)))
    await server.call(("work", None), timeout=2.5)
    await session.stop()  # the server itself is left to asyncio.run to cancel


async def soak_round(rng: random.Random, servers: list[Soaked], watcher: Soaked) -> int:
    """One round of mixed work; returns how many operations it did. Calls come last, so
    that each server's last message is a call whose request carries 8 KiB."""
    ops = 0
    sessions = []
    for i in range(100):
        server = rng.choice(servers)
        name = f"session-{i}" if i % 3 == 0 else None
        session = await ShortLived.start(server, rng.uniform(0.001, 0.02), name=name)
        ref = await watcher.call(("monitor", session))
        if i % 4 == 0:
            await watcher.call(("demonitor", ref))
        if i % 5 == 0:
            await session.call("demonitor")
        sessions.append(session)
    ops += 100 * 6
    await asyncio.sleep(0.01)  # some of the short timers fire (real time: see below)
    for i, session in enumerate(sessions):
        if i % 3 == 0:
            session.cast("normal")  # it stops itself
        elif i % 3 == 1:
            session._otp_kill()
        else:
            await session.stop()
    for session in sessions:
        await session.wait_exit()
    ops += 100
    for _ in range(3):
        await asyncio.to_thread(asyncio.run, loop_of_its_own())
    ops += 3 * 10

    for i in range(4_000):
        servers[i % len(servers)].cast(i)
        servers[i % len(servers)].send(i)
    ops += 8_000

    async def client(calls: int) -> None:
        for _ in range(calls):
            server = rng.choice(servers)
            timeout = rng.choice([5.0, None, round(rng.uniform(0.5, 30.0), 3)])
            await server.call(("work", bytes(8_192)), timeout)

    await asyncio.gather(*(client(125) for _ in range(8)))
    return ops + 1_000


# On the real clock: looptime's bookkeeping on every turn of the loop would triple the
# run time, and every timer here is short (long ones are cancelled by their process's exit).
@pytest.mark.looptime(False)
@pytest.mark.usefixtures("traced")
async def test_soak_memory_comes_back_to_its_baseline() -> None:
    rng = random.Random(10)
    servers = [await Soaked.start() for _ in range(48)]
    watcher = await Soaked.start(name="watcher")
    await soak_round(rng, servers, watcher)  # warm up: caches, the thread pool, ...
    for server in servers:  # the baseline: each server's last message is a small one
        await server.call(("work", None))
    memory = Traced()
    ops = 0
    for _ in range(25):
        ops += await soak_round(rng, servers, watcher)
    growth = memory.growth()
    for process in [*servers, watcher]:
        await process.stop()
    assert ops > 200_000
    assert growth < 256 * 1024, f"{growth:,} bytes more after {ops:,} operations"


async def test_a_process_object_stays_within_its_memory_budget() -> None:
    # Every slot is 8 bytes in each of the 100,000 idle processes a session service
    # holds (benchmarks/kernel_memory.py: <= 1,600 B per supervised, registered process,
    # everything included). A new field must pay for itself: update this with the reason.
    # 168: `_otp_started` (the observer's uptime; no per-loop table could be smaller).
    assert sys.getsizeof(GenServer()) <= 168


async def test_processes_started_in_a_burst_share_one_start_time_but_later_ones_do_not() -> None:
    # Each start time would be a float of its own (32 bytes a process at 100k); a burst
    # shares one, and a process started later still gets its own time.
    burst = [await Echo.start() for _ in range(50)]
    assert len({id(p._otp_started) for p in burst}) == 1
    await asyncio.sleep(0.5)  # loop time (looptime): half a second later
    later = await Echo.start()
    assert later._otp_started == pytest.approx(burst[0]._otp_started + 0.5, abs=0.002)
    for process in [*burst, later]:
        await process.stop()
