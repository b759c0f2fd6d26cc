"""A bounded chaos test: 10,000 registered workers under one DynamicSupervisor take a seeded
random mix of crashes, normal stops, external cancellations and calls. Afterwards the
registry, the supervisor and the restart count must agree exactly with what the test did.

It runs on the real clock (nothing in it sleeps) in a few seconds; the seed is in the test
id, so a failure is replayed with `-k <seed>`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter

import pytest
from helpers import (
    Events,
    Worker,
    running_tasks,
    stop_if_alive,
    worker_spec,
)
from otp import (
    NORMAL,
    PERMANENT,
    TRANSIENT,
    UNIQUE,
    ChildCounts,
    DynamicSupervisor,
    GenServer,
    Registry,
    Restart,
    via,
)

WORKERS = 10_000
OPERATIONS = 30_000


@pytest.mark.parametrize("seed", [20240611, 7])
async def test_chaos_leaves_registry_supervisor_and_restart_count_consistent(
    seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="otp")  # thousands of crash reports: keep quiet
    rng = random.Random(seed)
    registry = Registry(UNIQUE, name="chaos")
    events: Events = []
    sup = await DynamicSupervisor.start(max_restarts=1_000_000, max_seconds=3600.0)
    try:
        restart_of: dict[int, Restart] = {}
        for key in range(WORKERS):
            restart_of[key] = PERMANENT if rng.random() < 0.5 else TRANSIENT
            spec = worker_spec(key, events, restart=restart_of[key], name=via(registry, key))
            await sup.start_child(spec)
        assert registry.count() == WORKERS

        caused: Counter[int] = Counter()  # restarts this test caused, per key
        finished: set[int] = set()  # transient workers stopped normally: gone for good
        doomed: list[GenServer] = []  # told to exit; each is acted on at most once
        told: set[GenServer] = set()
        done: Counter[str] = Counter()
        for _ in range(OPERATIONS):
            key = rng.randrange(WORKERS)
            worker = registry.whereis(key)
            # Act only on a running worker (not one still in init during its restart, not
            # one already told to exit): otherwise one exit could be counted twice.
            if worker is None or worker in told or not isinstance(worker, Worker):
                done["skipped"] += 1
                await asyncio.sleep(0)  # let the supervisor catch up on restarts
                continue
            if not worker.ready:
                done["skipped"] += 1
                await asyncio.sleep(0)
                continue
            roll = rng.random()
            if roll < 0.4:
                assert await worker.call("ping") == ("pong", key)
                done["call"] += 1
                continue
            if roll < 0.6:
                worker.cast("crash")
                caused[key] += 1
                done["crash"] += 1
            elif roll < 0.8:
                worker.cast(("stop", NORMAL))
                if restart_of[key] is PERMANENT:
                    caused[key] += 1
                else:
                    finished.add(key)
                done["stop"] += 1
            else:
                assert worker._otp_task is not None
                worker._otp_task.cancel()
                caused[key] += 1
                done["cancel"] += 1
            told.add(worker)
            doomed.append(worker)
            if rng.random() < 0.2:
                await asyncio.sleep(0)
        assert min(done[kind] for kind in ("call", "crash", "stop", "cancel")) > 1_000, done

        # Quiesce: every worker told to exit has exited, and every restart has happened.
        exits = await asyncio.gather(*(p.wait_exit(30.0) for p in doomed))
        assert all(exits)
        live_count = WORKERS - len(finished)
        rounds = 0
        while rounds < 50_000 and registry.count() != live_count:  # restarts register first
            rounds += 1
            await asyncio.sleep(0)
        counts = await sup.count_children()
        while rounds < 51_000 and not counts.specs == counts.active == live_count:
            rounds += 1
            await asyncio.sleep(0)
            counts = await sup.count_children()
        assert counts == ChildCounts(live_count, live_count, 0, live_count), rounds
        assert sup.alive

        # The registry holds exactly the live children, each under its own key.
        children = await sup.which_children()
        live = {info.process: info.id for info in children}
        assert len(live) == live_count
        assert registry.count() == live_count
        for process, key in live.items():
            assert process is not None
            assert process.alive
            assert registry.whereis(key) is process
            assert registry.keys_of(process) == [key]
        for key in range(WORKERS):
            found = registry.whereis(key)
            assert (found is None) if key in finished else (found in live), key

        # Every exit the test caused was restarted exactly once; nothing else was.
        inits = Counter(key for kind, key in events if kind == "start")
        assert sum(inits.values()) - WORKERS == sum(caused.values())
        assert [key for key in range(WORKERS) if inits[key] != 1 + caused[key]] == []

        # Every live worker answers.
        keys = sorted(key for key in live.values() if isinstance(key, int))
        replies = await asyncio.gather(*(via(registry, key).call("ping") for key in keys))
        assert replies == [("pong", key) for key in keys]

        await sup.stop()

        assert registry.count() == 0
        assert not any(process is not None and process.alive for process in live)
        assert running_tasks() == []
    finally:
        await stop_if_alive(sup)
