"""GenServer call round trip: the kernel next to a bare mailbox floor, pykka and triotp.

A call is the kernel's hottest path: every request a generated service handles goes
through one. This measures `await server.call(request)` with the default timeout, where
`handle_call` returns the request (a small int), from one client doing calls back to back
and from 10, 100 and 1,000 concurrent clients (the last two for the kernel and the floor
only), and reports microseconds per call (round time / calls).

Side by side, in the same run and with rounds interleaved so drift hits all of them:

- the floor: a mailbox written here with nothing but what a call needs (a deque of
  (request, reply future) pairs, a server task that waits on a future when it is empty, no
  timeout, no monitoring, no state machine). `otp / floor` is the price of the kernel's
  semantics over raw asyncio.
- the kernel without a timeout (`timeout=None`) and through `via(registry, key)`, to
  show what the deadline and the name lookup cost.
- pykka (thread-based): `ActorRef.ask` and a proxy method call, from plain threads. A
  thread hand-off costs a few times more when the OS runs the two threads on two CPUs
  than on one, and which it does depends on the machine's load, so `ask` is also
  measured with the caller and the actor pinned to one CPU, and to two.
- triotp (trio-based): `gen_server.call`, under `trio.run` in its own section.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

import otp
from harness import Config, Group, Target

OTP_SEQ = "otp call (default timeout), 1 client"
OTP_CONC = "otp call (default timeout), {n} clients"
OTP_NO_TIMEOUT = "otp call (timeout=None), 1 client"
OTP_VIA = "otp via(registry, key).call, 1 client"
FLOOR_SEQ = "floor: deque mailbox + future, 1 client"
FLOOR_CONC = "floor: deque mailbox + future, {n} clients"
FLOOR_ASYNC = "floor + async handler, 1 client"
OTP_NO_TIMEOUT_CONC = "otp call (timeout=None), {n} clients"
STEP_1 = "floor + caller record, {n} clients"
STEP_2 = "floor + caller record + async handler, {n} clients"
STEP_3 = "floor + caller record + async handler + current_task(), {n} clients"
PYKKA_SEQ = "pykka ThreadingActor ask, 1 thread"
PYKKA_SAME_CPU = "pykka ThreadingActor ask, 1 thread, pinned: same CPU"
PYKKA_TWO_CPUS = "pykka ThreadingActor ask, 1 thread, pinned: two CPUs"
PYKKA_CONC = "pykka ThreadingActor ask, {n} threads"
PYKKA_PROXY = "pykka proxy method .get(), 1 thread"
TRIOTP_SEQ = "triotp gen_server.call, 1 task"
TRIOTP_CONC = "triotp gen_server.call, {n} tasks"


# The kernel side.


class Echo(otp.GenServer):
    """Replies with the request."""

    async def handle_call(self, request: Any, caller: otp.Caller) -> Any:
        return request


# The floor: the least a call can do in asyncio.


class FloorServer:
    """A server task over a deque of (request, reply future); no timeout, no monitoring."""

    __slots__ = ("_handler", "_otp_loop", "_otp_task", "_otp_waiter", "_queue")

    def __init__(self, handler: Callable[[Any], Awaitable[Any]] | None = None) -> None:
        self._otp_loop = asyncio.get_running_loop()
        self._queue: deque[tuple[Any, asyncio.Future[Any] | None]] = deque()
        self._otp_waiter: asyncio.Future[None] | None = None
        self._handler = handler
        self._otp_task = self._otp_loop.create_task(self._serve())

    async def call(self, request: Any) -> Any:
        future: asyncio.Future[Any] = self._otp_loop.create_future()
        self._queue.append((request, future))
        waiter = self._otp_waiter
        if waiter is not None:
            self._otp_waiter = None
            waiter.set_result(None)
        return await future

    async def stop(self) -> None:
        self._queue.append((None, None))
        waiter = self._otp_waiter
        if waiter is not None:
            self._otp_waiter = None
            waiter.set_result(None)
        await self._otp_task

    async def _serve(self) -> None:
        queue = self._queue
        handler = self._handler
        while True:
            if not queue:
                waiter = self._otp_waiter = self._otp_loop.create_future()
                await waiter
                continue
            request, future = queue.popleft()
            if future is None:
                return
            reply = request if handler is None else await handler(request)
            if not future.done():
                future.set_result(reply)


async def _echo(request: Any) -> Any:
    return request


class _Record:
    """What the kernel queues per call besides the request: reply future and calling task."""

    __slots__ = ("future", "task")

    def __init__(self, future: asyncio.Future[Any], task: asyncio.Task[Any] | None) -> None:
        self.future = future
        self.task = task


class SteppedFloor:
    """The floor plus the kernel's per-call steps up to `step`, to show where the gap goes.

    1: a caller record (an object with the future and the calling task) in a tagged tuple;
    2: and an async handler awaited per request;
    3: and `asyncio.current_task()` with a calling-itself check in every call.
    What is left between step 3 and the kernel is its call timeout bookkeeping and its
    receive loop (state checks, Continue/Stop/NOREPLY dispatch, mailbox index).
    """

    def __init__(self, step: int) -> None:
        self._step = step
        self._otp_loop = asyncio.get_running_loop()
        self._queue: deque[tuple[int, Any, _Record | None]] = deque()
        self._otp_waiter: asyncio.Future[None] | None = None
        self._otp_task = self._otp_loop.create_task(self._serve())

    def _otp_post(self, item: tuple[int, Any, _Record | None]) -> None:
        self._queue.append(item)
        waiter = self._otp_waiter
        if waiter is not None:
            self._otp_waiter = None
            waiter.set_result(None)

    async def call(self, request: Any) -> Any:
        task = None
        if self._step >= 3:
            task = asyncio.current_task()
            if task is self._otp_task:
                raise RuntimeError("the server called itself")
        future: asyncio.Future[Any] = self._otp_loop.create_future()
        self._otp_post((0, request, _Record(future, task)))
        return await future

    async def stop(self) -> None:
        self._otp_post((1, None, None))
        await self._otp_task

    async def _serve(self) -> None:
        queue = self._queue
        awaits_handler = self._step >= 2
        while True:
            if not queue:
                waiter = self._otp_waiter = self._otp_loop.create_future()
                await waiter
                continue
            kind, request, record = queue.popleft()
            if kind or record is None:
                return
            reply = await _echo(request) if awaits_handler else request
            future = record.future
            if not future.done():
                future.set_result(reply)


# One timed round of each asyncio variant.

CallFn = Callable[[Any], Awaitable[Any]]
AsyncRound = Callable[[int], Coroutine[Any, Any, float]]
SyncRound = Callable[[int], float]


async def _sequential(call: CallFn, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        await call(i)
    return time.perf_counter() - start


async def _sequential_no_timeout(server: otp.GenServer, calls: int) -> float:
    call = server.call
    start = time.perf_counter()
    for i in range(calls):
        await call(i, None)
    return time.perf_counter() - start


async def _concurrent_no_timeout(server: otp.GenServer, calls: int, clients: int) -> float:
    async def client(each: int) -> None:
        call = server.call
        for i in range(each):
            await call(i, None)

    start = time.perf_counter()
    await asyncio.gather(*(client(calls // clients) for _ in range(clients)))
    return time.perf_counter() - start


async def _concurrent(call: CallFn, calls: int, clients: int) -> float:
    async def client(each: int) -> None:
        for i in range(each):
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(client(calls // clients) for _ in range(clients)))
    return time.perf_counter() - start


class _AsyncioSide:
    """The servers of the asyncio variants, kept alive across rounds on one loop."""

    def __init__(self, runner: asyncio.Runner) -> None:
        self.runner = runner
        runner.run(self._otp_start())

    async def _otp_start(self) -> None:
        self.otp = await Echo.start()
        self.registry = otp.Registry(otp.UNIQUE, name="bench")
        self.named = await Echo.start(name=otp.via(self.registry, "echo"))
        self.floor = FloorServer()
        self.floor_async = FloorServer(_echo)
        self.steps = {step: SteppedFloor(step) for step in (1, 2, 3)}

    def variants(self, clients: int) -> dict[str, AsyncRound]:
        server = self.otp
        name = otp.via(self.registry, "echo")

        return {
            OTP_SEQ: lambda n: _sequential(server.call, n),
            FLOOR_SEQ: lambda n: _sequential(self.floor.call, n),
            OTP_CONC.format(n=clients): lambda n: _concurrent(server.call, n, clients),
            FLOOR_CONC.format(n=clients): lambda n: _concurrent(self.floor.call, n, clients),
            OTP_NO_TIMEOUT: lambda n: _sequential_no_timeout(server, n),
            OTP_VIA: lambda n: _sequential(name.call, n),
            FLOOR_ASYNC: lambda n: _sequential(self.floor_async.call, n),
            OTP_NO_TIMEOUT_CONC.format(n=clients): lambda n: _concurrent_no_timeout(
                server, n, clients
            ),
            STEP_1.format(n=clients): lambda n: _concurrent(self.steps[1].call, n, clients),
            STEP_2.format(n=clients): lambda n: _concurrent(self.steps[2].call, n, clients),
            STEP_3.format(n=clients): lambda n: _concurrent(self.steps[3].call, n, clients),
        }

    def close(self) -> None:
        async def stop() -> None:
            await self.otp.stop()
            await self.named.stop()
            await self.floor.stop()
            await self.floor_async.stop()
            for floor in self.steps.values():
                await floor.stop()

        self.runner.run(stop())


# pykka: threads.


class _PykkaSide:
    """pykka actors; the caller is the main thread (plain, no event loop running)."""

    def __init__(self) -> None:
        import pykka

        class EchoActor(pykka.ThreadingActor):
            def on_receive(self, message: Any) -> Any:
                return message

            def echo(self, value: Any) -> Any:
                return value

        self.ref = EchoActor.start()
        self.proxy = self.ref.proxy()
        # Actors whose thread is pinned to a CPU, called from the main thread pinned to the
        # same CPU or to another: a thread-to-thread hand-off costs far less on one CPU than
        # across two, and which one the OS picks for the unpinned actor depends on what
        # else the machine runs.
        self.pinned: dict[str, tuple[int, Any]] = {}
        if hasattr(os, "sched_setaffinity"):
            saved = os.sched_getaffinity(0)
            cpus = sorted(saved)
            layouts = {PYKKA_SAME_CPU: (cpus[0], cpus[0])}
            if len(cpus) > 1:
                layouts[PYKKA_TWO_CPUS] = (cpus[0], cpus[1])
            try:
                for label, (caller_cpu, actor_cpu) in layouts.items():
                    os.sched_setaffinity(0, {actor_cpu})  # the actor's new thread inherits it
                    self.pinned[label] = (caller_cpu, EchoActor.start())
            finally:
                os.sched_setaffinity(0, saved)

    def variants(self, clients: int) -> dict[str, SyncRound]:
        ref = self.ref
        proxy = self.proxy

        def ask(n: int) -> float:
            start = time.perf_counter()
            for i in range(n):
                ref.ask(i)
            return time.perf_counter() - start

        def pinned(label: str) -> SyncRound:
            cpu, pinned_ref = self.pinned[label]

            def round(n: int) -> float:
                saved = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {cpu})
                try:
                    start = time.perf_counter()
                    for i in range(n):
                        pinned_ref.ask(i)
                    return time.perf_counter() - start
                finally:
                    os.sched_setaffinity(0, saved)

            return round

        def proxied(n: int) -> float:
            start = time.perf_counter()
            for i in range(n):
                proxy.echo(i).get()
            return time.perf_counter() - start

        def threads(n: int) -> float:
            each = n // clients
            barrier = threading.Barrier(clients + 1)

            def client() -> None:
                barrier.wait()
                for i in range(each):
                    ref.ask(i)

            workers = [threading.Thread(target=client) for _ in range(clients)]
            for worker in workers:
                worker.start()
            barrier.wait()
            start = time.perf_counter()
            for worker in workers:
                worker.join()
            return time.perf_counter() - start

        variants: dict[str, SyncRound] = {PYKKA_SEQ: ask}
        for label in self.pinned:
            variants[label] = pinned(label)
        variants[PYKKA_CONC.format(n=clients)] = threads
        variants[PYKKA_PROXY] = proxied
        return variants

    def close(self) -> None:
        self.ref.stop()
        for _, pinned_ref in self.pinned.values():
            pinned_ref.stop()


# triotp: trio, one trio.run per round (its mailbox registry lives in the run).


class _TriotpSide:
    def __init__(self) -> None:
        import trio  # type: ignore[import-untyped]
        from triotp import gen_server, mailbox  # type: ignore[import-untyped]

        self.trio = trio
        self.gen_server = gen_server
        self.mailbox = mailbox
        # triotp's gen_server takes a module of callbacks; build one in memory.
        module = types.ModuleType("bench_triotp_echo")

        async def init(started: Any) -> int:
            started.set()  # the mailbox is registered by now
            return 0

        async def handle_call(message: Any, caller: Any, state: int) -> tuple[Any, int]:
            return gen_server.Reply(payload=message), state

        async def handle_cast(message: Any, state: int) -> tuple[Any, int]:
            return gen_server.Stop(), state

        module.init = init  # type: ignore[attr-defined]
        module.handle_call = handle_call  # type: ignore[attr-defined]
        module.handle_cast = handle_cast  # type: ignore[attr-defined]
        self.module = module

    def round(self, calls: int, clients: int) -> float:
        trio, gen_server, mailbox = self.trio, self.gen_server, self.mailbox
        elapsed = 0.0

        async def main() -> None:
            nonlocal elapsed
            mailbox._init()
            async with trio.open_nursery() as nursery:
                started = trio.Event()
                nursery.start_soon(gen_server.start, self.module, started, "echo")
                await started.wait()

                async def client(each: int) -> None:
                    for i in range(each):
                        await gen_server.call("echo", i)

                start = time.perf_counter()
                if clients == 1:
                    await client(calls)
                else:
                    async with trio.open_nursery() as inner:
                        for _ in range(clients):
                            inner.start_soon(client, calls // clients)
                elapsed = time.perf_counter() - start
                await gen_server.cast("echo", "stop")

        trio.run(main)
        return elapsed

    def variants(self, clients: int) -> dict[str, SyncRound]:
        return {
            TRIOTP_SEQ: lambda n: self.round(n, 1),
            TRIOTP_CONC.format(n=clients): lambda n: self.round(n, clients),
        }


def run(config: Config) -> Group:
    group = Group(f"GenServer call round trip ({config.calls:,} calls per round)")
    calls, clients = config.calls, config.clients
    per_call: dict[str, list[float]] = {}

    with asyncio.Runner() as runner:
        side = _AsyncioSide(runner)
        async_variants = side.variants(clients)
        for more in config.more_clients:
            async_variants[OTP_CONC.format(n=more)] = partial(
                _concurrent, side.otp.call, clients=more
            )
            async_variants[FLOOR_CONC.format(n=more)] = partial(
                _concurrent, side.floor.call, clients=more
            )
        sync_variants: dict[str, SyncRound] = {}
        pykka_side: _PykkaSide | None = None
        try:
            for label, factory in (("pykka", _PykkaSide), ("triotp", _TriotpSide)):
                try:
                    peer = factory()
                    if isinstance(peer, _PykkaSide):
                        pykka_side = peer  # its actor threads must be stopped, whatever happens
                    variants = peer.variants(clients)
                    for check in variants.values():
                        check(max(clients, calls // 20))  # does it work at all? (and warm up)
                except Exception as exc:
                    group.notes.append(f"{label} not measured: {type(exc).__name__}: {exc}")
                    continue
                sync_variants.update(variants)

            for warm_up in async_variants.values():
                runner.run(warm_up(calls // 10))

            for _ in range(config.call_rounds):
                for name, async_fn in async_variants.items():
                    gc.collect()
                    elapsed = runner.run(async_fn(calls))
                    per_call.setdefault(name, []).append(elapsed / calls * 1e6)
                for name, sync_fn in sync_variants.items():
                    gc.collect()
                    per_call.setdefault(name, []).append(sync_fn(calls) / calls * 1e6)
        finally:
            if pykka_side is not None:
                pykka_side.close()
        side.close()

    order = [
        OTP_SEQ,
        OTP_NO_TIMEOUT,
        OTP_VIA,
        FLOOR_SEQ,
        FLOOR_ASYNC,
        PYKKA_SEQ,
        PYKKA_SAME_CPU,
        PYKKA_TWO_CPUS,
        PYKKA_PROXY,
        TRIOTP_SEQ,
        OTP_CONC.format(n=clients),
        OTP_NO_TIMEOUT_CONC.format(n=clients),
        FLOOR_CONC.format(n=clients),
        STEP_1.format(n=clients),
        STEP_2.format(n=clients),
        STEP_3.format(n=clients),
        PYKKA_CONC.format(n=clients),
        TRIOTP_CONC.format(n=clients),
    ]
    for more in config.more_clients:
        order += [OTP_CONC.format(n=more), FLOOR_CONC.format(n=more)]
    for name in order:
        if name in per_call:
            group.add(name, "us", per_call[name])

    conc = f", {clients} clients"
    group.ratio("otp / floor, 1 client", OTP_SEQ, FLOOR_SEQ, Target("<=", 1.3))
    group.ratio(
        "otp / floor" + conc,
        OTP_CONC.format(n=clients),
        FLOOR_CONC.format(n=clients),
        Target("<=", 1.3),
    )
    for more in config.more_clients:
        group.ratio(
            f"otp / floor, {more} clients",
            OTP_CONC.format(n=more),
            FLOOR_CONC.format(n=more),
            Target("<=", 1.3),
        )
    group.ratio("pykka ask / otp, 1 client", PYKKA_SEQ, OTP_SEQ, Target(">=", 4))
    group.ratio(
        "pykka ask / otp" + conc,
        PYKKA_CONC.format(n=clients),
        OTP_CONC.format(n=clients),
        Target(">=", 4),
    )
    group.ratio("pykka ask, same CPU / otp, 1 client", PYKKA_SAME_CPU, OTP_SEQ, Target(">=", 4))
    group.ratio("pykka ask, two CPUs / otp, 1 client", PYKKA_TWO_CPUS, OTP_SEQ, Target(">=", 4))
    group.ratio("pykka proxy / otp, 1 client", PYKKA_PROXY, OTP_SEQ)
    group.ratio("triotp / otp, 1 client", TRIOTP_SEQ, OTP_SEQ)
    group.ratio("triotp / otp" + conc, TRIOTP_CONC.format(n=clients), OTP_CONC.format(n=clients))
    group.ratio("otp timeout=None / floor, 1 client", OTP_NO_TIMEOUT, FLOOR_SEQ)
    group.ratio("floor + async handler / floor, 1 client", FLOOR_ASYNC, FLOOR_SEQ)
    group.ratio(
        "otp timeout=None / floor" + conc,
        OTP_NO_TIMEOUT_CONC.format(n=clients),
        FLOOR_CONC.format(n=clients),
    )
    group.ratio(
        "otp / floor + record + handler + current_task()" + conc,
        OTP_CONC.format(n=clients),
        STEP_3.format(n=clients),
    )
    return group
