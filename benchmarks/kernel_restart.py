"""Restart latency: how long a crashed child is unavailable under a supervisor.

"Let it crash" is only cheap if coming back is fast. One sample is one restart: from
the moment the crash is triggered (a cast whose handler raises) until the replacement
is registered under the same `via(registry, key)` name and has answered a call. The
replacement's `init` resolves a future the benchmark waits on, then the benchmark looks
the name up and calls it, so nothing is polled and no sleep rounds the figure up.

Side by side:

- Supervisor, one_for_one (the target case), and DynamicSupervisor;
- the same Supervisor with the crash report actually formatted (a logging handler
  writing to os.devnull): by default the benchmark gives the kernel's logger a
  NullHandler, which builds the records but never formats the traceback;
- the floor: a bare asyncio task over a deque mailbox whose done-callback starts a new
  task and puts it in a dict, the least a restart can be.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import otp
from harness import Config, Group

SUP = "Supervisor one_for_one"
DYN = "DynamicSupervisor"
SUP_LOGGED = "Supervisor one_for_one, crash report formatted"
FLOOR = "floor: task crash -> done callback -> new task"
KEY = "worker"


class _StartHook:
    """Resolved by the next process that starts: how the benchmark learns of a restart."""

    def __init__(self) -> None:
        self.future: asyncio.Future[Any] | None = None

    def arm(self) -> asyncio.Future[Any]:
        self.future = asyncio.get_running_loop().create_future()
        return self.future

    def started(self, process: object) -> None:
        future, self.future = self.future, None
        if future is not None and not future.done():
            future.set_result(process)


HOOK = _StartHook()


class Crashy(otp.GenServer):
    """Answers calls; a cast makes it crash."""

    async def init(self) -> None:
        HOOK.started(self)

    async def handle_call(self, request: Any, caller: otp.Caller) -> Any:
        return request

    async def handle_cast(self, msg: Any) -> None:
        raise RuntimeError("crash requested by the benchmark")


# The floor: a task per process, restarted from its done-callback.


class FloorProcess:
    __slots__ = ("_otp_loop", "_otp_waiter", "_queue", "task")

    def __init__(self) -> None:
        self._otp_loop = asyncio.get_running_loop()
        self._queue: deque[tuple[Any, asyncio.Future[Any] | None]] = deque()
        self._otp_waiter: asyncio.Future[None] | None = None
        self.task = self._otp_loop.create_task(self._serve())

    def _otp_post(self, request: Any, future: asyncio.Future[Any] | None) -> None:
        self._queue.append((request, future))
        waiter = self._otp_waiter
        if waiter is not None:
            self._otp_waiter = None
            waiter.set_result(None)

    def cast(self, msg: Any) -> None:
        self._otp_post(msg, None)

    async def call(self, request: Any) -> Any:
        future: asyncio.Future[Any] = self._otp_loop.create_future()
        self._otp_post(request, future)
        return await future

    async def _serve(self) -> None:
        HOOK.started(self)
        queue = self._queue
        while True:
            if not queue:
                waiter = self._otp_waiter = self._otp_loop.create_future()
                await waiter
                continue
            request, future = queue.popleft()
            if future is None:
                raise RuntimeError("crash requested by the benchmark")
            future.set_result(request)


class FloorSupervisor:
    """Restarts a crashed FloorProcess under the same name."""

    def __init__(self) -> None:
        self.names: dict[str, FloorProcess] = {}
        self.stopping = False

    def start(self, key: str) -> FloorProcess:
        process = self.names[key] = FloorProcess()
        process.task.add_done_callback(lambda task: self._exited(key, task))
        return process

    def _exited(self, key: str, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved, as a supervisor would, to report it
        if not self.stopping:
            self.start(key)

    async def stop(self) -> None:
        self.stopping = True
        tasks = [process.task for process in self.names.values()]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


# One sample: crash, wait for the replacement, call it.

Sampler = Callable[[int], Coroutine[Any, Any, list[float]]]


async def _otp_samples(registry: otp.Registry, rounds: int) -> list[float]:
    samples = []
    name = otp.via(registry, KEY)
    for i in range(rounds):
        old = name.whereis()
        assert old is not None
        started = HOOK.arm()
        start = time.perf_counter()
        old.cast("crash")
        process = await started
        assert isinstance(process, Crashy)
        assert process is name.whereis()
        assert process is not old
        await process.call(i)
        samples.append(time.perf_counter() - start)
    return samples


async def _floor_samples(sup: FloorSupervisor, rounds: int) -> list[float]:
    samples = []
    for i in range(rounds):
        old = sup.names[KEY]
        started = HOOK.arm()
        start = time.perf_counter()
        old.cast("crash")
        process = await started
        assert isinstance(process, FloorProcess)
        assert process is sup.names[KEY]
        assert process is not old
        await process.call(i)
        samples.append(time.perf_counter() - start)
    return samples


class _Side:
    """The supervisors under test, kept alive across rounds on one loop."""

    async def start(self) -> None:
        many = {"max_restarts": 1_000_000_000, "max_seconds": 1.0}
        self.sup_registry = otp.Registry(otp.UNIQUE, name="sup")
        self.sup = await otp.Supervisor.start(
            [Crashy.child_spec(name=otp.via(self.sup_registry, KEY))],
            strategy=otp.ONE_FOR_ONE,
            **many,
        )
        self.dyn_registry = otp.Registry(otp.UNIQUE, name="dyn")
        self.dyn = await otp.DynamicSupervisor.start(**many)
        await self.dyn.start_child(Crashy.child_spec(name=otp.via(self.dyn_registry, KEY)))
        self.floor = FloorSupervisor()
        self.floor.start(KEY)
        await asyncio.sleep(0)  # let it run, so its start does not answer the first sample's hook

    async def stop(self) -> None:
        await self.sup.stop()
        await self.dyn.stop()
        await self.floor.stop()

    def samplers(self, logger: logging.Logger, formatted: logging.Handler) -> dict[str, Sampler]:
        async def logged(rounds: int) -> list[float]:
            logger.addHandler(formatted)
            try:
                return await _otp_samples(self.sup_registry, rounds)
            finally:
                logger.removeHandler(formatted)

        return {
            SUP: lambda n: _otp_samples(self.sup_registry, n),
            DYN: lambda n: _otp_samples(self.dyn_registry, n),
            SUP_LOGGED: logged,
            FLOOR: lambda n: _floor_samples(self.floor, n),
        }


def run(config: Config) -> Group:
    group = Group(
        f"Restart latency: crash -> registered -> answers a call "
        f"({config.restart_rounds} rounds x {config.restarts_per_round} restarts)"
    )
    # Crash reports would print a traceback per restart; build them, but send them nowhere
    # (except in the SUP_LOGGED variant, which formats them into os.devnull).
    logger = logging.getLogger("otp")
    saved = (logger.handlers[:], logger.propagate)
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed in finally
    formatted = logging.StreamHandler(devnull)
    formatted.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    samples: dict[str, list[float]] = {}
    try:
        with asyncio.Runner() as runner:
            side = _Side()
            runner.run(side.start())
            samplers = side.samplers(logger, formatted)
            for sampler in samplers.values():  # warm up
                runner.run(sampler(max(5, config.restarts_per_round // 10)))
            for _ in range(config.restart_rounds):
                for name, sampler in samplers.items():
                    gc.collect()
                    taken = runner.run(sampler(config.restarts_per_round))
                    samples.setdefault(name, []).extend(s * 1e6 for s in taken)
            runner.run(side.stop())
    finally:
        logger.handlers[:], logger.propagate = saved
        devnull.close()

    for name in (SUP, DYN, SUP_LOGGED, FLOOR):
        group.add(name, "us", samples[name], note="one sample per restart")
    group.ratio("Supervisor / floor", SUP, FLOOR)
    group.ratio("DynamicSupervisor / floor", DYN, FLOOR)
    group.ratio("crash report formatted / not", SUP_LOGGED, SUP)
    return group
