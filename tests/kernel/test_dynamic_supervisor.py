"""DynamicSupervisor conformance: children started on demand, restarted one_for_one,
capped by max_children, stopped concurrently, and get-or-start through a Registry.

Every test runs on looptime's fake loop clock; a test that hangs fails (idle_timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from helpers import (
    Attempts,
    Boom,
    Events,
    Worker,
    crash,
    exited,
    running_tasks,
    stop_if_alive,
    worker_spec,
)
from otp import (
    KILLED,
    MAX_RESTARTS_REACHED,
    NORMAL,
    PERMANENT,
    SHUTDOWN,
    SUPERVISOR,
    TEMPORARY,
    TRANSIENT,
    UNIQUE,
    WORKER,
    AlreadyStarted,
    ChildCounts,
    ChildInfo,
    ChildNotFound,
    ChildSpec,
    ChildSpecError,
    DynamicSupervisor,
    GenServer,
    MaxChildren,
    NoProcess,
    Registry,
    Shutdown,
    Supervisor,
    via,
)
from otp._shutdown import KILL_GRACE

pytestmark = pytest.mark.looptime(idle_timeout=2)  # a hang fails instead of hanging

StartDyn = Callable[..., Awaitable[DynamicSupervisor]]


@pytest.fixture
async def supervise() -> AsyncIterator[StartDyn]:
    started: list[DynamicSupervisor] = []

    async def start(**options: Any) -> DynamicSupervisor:
        sup = await DynamicSupervisor.start(**options)
        started.append(sup)
        return sup

    yield start
    await stop_if_alive(*started)


@pytest.fixture
def events() -> Events:
    return []


def now() -> float:
    return asyncio.get_running_loop().time()


async def settle(sup: DynamicSupervisor, rounds: int = 10_000) -> ChildCounts:
    """Yield until no child is waiting to be restarted (or the supervisor exited)."""
    for _ in range(rounds):
        counts = await sup.count_children()
        if not sup.alive or counts.specs == counts.active:
            return counts
        await asyncio.sleep(0)
    raise AssertionError(f"{sup!r} still restarting: {counts}")


async def only_child(sup: DynamicSupervisor) -> GenServer:
    [info] = await sup.which_children()
    assert info.process is not None
    return info.process


# Starting and terminating children


async def test_start_child_returns_a_running_supervised_child(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise()
    a = await sup.start_child(worker_spec("a", events))
    b = await sup.start_child(worker_spec("b", events, restart=TRANSIENT))

    assert a.alive
    assert await a.call("ping") == ("pong", "a")
    assert await sup.which_children() == [
        ChildInfo("a", a, WORKER, PERMANENT),
        ChildInfo("b", b, WORKER, TRANSIENT),
    ]
    assert await sup.count_children() == ChildCounts(2, 2, 0, 2)
    nested = await sup.start_child(Supervisor.child_spec([], name="nested"))
    assert await sup.count_children() == ChildCounts(3, 3, 1, 2)
    assert (await sup.which_children())[2] == ChildInfo("nested", nested, SUPERVISOR, PERMANENT)


async def test_children_with_the_same_spec_id_are_independent(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise()
    children = [await sup.start_child(worker_spec("w", events)) for _ in range(3)]

    await crash(children[1])
    await settle(sup)

    now_running = [info.process for info in await sup.which_children()]
    assert len(now_running) == 3
    assert children[0] in now_running
    assert children[2] in now_running
    assert children[1] not in now_running
    assert all(p is not None and p.alive for p in now_running)


async def test_terminate_child_stops_it_and_does_not_restart_it(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise(max_restarts=0)
    a = await sup.start_child(worker_spec("a", events, terminate_delay=1.0))
    started = now()

    await sup.terminate_child(a)

    assert now() - started == pytest.approx(1.0, abs=0.01)  # waits for terminate
    assert a.terminated_with == SHUTDOWN  # type: ignore[attr-defined]
    assert events == [("start", "a"), ("stop", "a")]
    assert await settle(sup) == ChildCounts(0, 0, 0, 0)
    assert sup.alive  # not counted as a restart
    with pytest.raises(ChildNotFound, match="is not a child of"):
        await sup.terminate_child(a)


async def test_terminate_child_of_a_stranger_raises_child_not_found(supervise: StartDyn) -> None:
    sup = await supervise()
    stranger = await Worker.start()
    try:
        with pytest.raises(ChildNotFound):
            await sup.terminate_child(stranger)
        assert stranger.alive
    finally:
        await stranger.stop()


@pytest.mark.parametrize("failure_kind", ["start", "init"])
async def test_start_child_raises_what_the_start_raised_and_keeps_nothing(
    supervise: StartDyn, events: Events, failure_kind: str
) -> None:
    sup = await supervise(max_children=1)
    if failure_kind == "start":
        spec = worker_spec("a", events, attempts=Attempts(lambda n: True))
    else:
        spec = worker_spec("a", events, init_fails=True)

    with pytest.raises(Boom):
        await sup.start_child(spec)

    assert await sup.count_children() == ChildCounts(0, 0, 0, 0)
    assert (await sup.start_child(worker_spec("b", events))).alive  # the slot is free


async def test_start_child_rejects_a_start_that_returns_no_process(supervise: StartDyn) -> None:
    async def returns_nothing() -> Any:
        return None

    sup = await supervise()
    message = "ChildSpec 'odd': start must return the started process, got: None"
    with pytest.raises(ChildSpecError, match=f"^{re.escape(message)}$"):
        await sup.start_child(ChildSpec("odd", returns_nothing))
    with pytest.raises(ChildSpecError, match=r"^start_child needs a ChildSpec, got: 'odd'$"):
        await sup.start_child("odd")  # type: ignore[arg-type]
    assert await sup.count_children() == ChildCounts(0, 0, 0, 0)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"max_children": 0}, "max_children must be an int >= 1 or None, got: 0"),
        ({"max_children": True}, "max_children must be an int >= 1 or None, got: True"),
        ({"max_children": 2.0}, "max_children must be an int >= 1 or None, got: 2.0"),
        ({"max_restarts": -1}, "max_restarts must be an int >= 0, got: -1"),
        ({"max_seconds": 0}, "max_seconds must be a number > 0, got: 0"),
    ],
)
async def test_dynamic_supervisor_rejects_bad_options(option: dict[str, Any], message: str) -> None:
    with pytest.raises(ChildSpecError, match=f"^{re.escape(message)}$"):
        await DynamicSupervisor.start(**option)


async def test_start_child_runs_the_start_in_the_caller_so_a_slow_init_blocks_no_one(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise()
    slow = asyncio.create_task(sup.start_child(worker_spec("slow", events, init_delay=10.0)))
    await asyncio.sleep(1.0)
    started = now()

    fast = await sup.start_child(worker_spec("fast", events))

    assert now() == started
    assert fast.alive
    assert not slow.done()
    assert await sup.count_children() == ChildCounts(1, 1, 0, 1)
    assert (await slow).alive
    assert now() == pytest.approx(10.0, abs=0.01)
    assert await sup.count_children() == ChildCounts(2, 2, 0, 2)


async def test_cancelling_start_child_kills_the_half_started_child_and_frees_its_slot(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise(max_children=1)
    starting = asyncio.create_task(sup.start_child(worker_spec("a", events, init_delay=10.0)))
    await asyncio.sleep(1.0)

    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    await asyncio.sleep(0.1)

    assert running_tasks() == []
    assert await sup.count_children() == ChildCounts(0, 0, 0, 0)
    assert (await sup.start_child(worker_spec("b", events))).alive
    assert events == [("start", "b")]


# max_children


async def test_max_children_refuses_a_child_past_the_limit(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise(max_children=2)
    a = await sup.start_child(worker_spec("a", events))
    await sup.start_child(worker_spec("b", events))

    with pytest.raises(MaxChildren, match="already has its max_children=2 children"):
        await sup.start_child(worker_spec("c", events))

    assert events == [("start", "a"), ("start", "b")]  # c's start never ran
    await sup.terminate_child(a)
    assert (await sup.start_child(worker_spec("c", events))).alive


async def test_max_children_counts_children_waiting_to_be_restarted(
    supervise: StartDyn, events: Events
) -> None:
    restarts = Attempts()

    async def start() -> GenServer:
        restarts.count += 1
        if restarts.count > 1:
            await asyncio.sleep(10.0)  # the restart is slow
        return await Worker.start("slow", events)

    sup = await supervise(max_children=2)
    slow = await sup.start_child(ChildSpec("slow", start))
    await sup.start_child(worker_spec("b", events))

    await crash(slow)
    await asyncio.sleep(1.0)

    assert restarts.count == 2  # the restart is under way
    assert await sup.count_children() == ChildCounts(2, 1, 0, 2)
    with pytest.raises(MaxChildren):
        await sup.start_child(worker_spec("c", events))
    await asyncio.sleep(10.0)
    assert await settle(sup) == ChildCounts(2, 2, 0, 2)
    with pytest.raises(MaxChildren):
        await sup.start_child(worker_spec("c", events))
    assert ("start", "c") not in events


def slow_to_restart(spec: ChildSpec) -> ChildSpec:
    """`spec`, whose every start after the first waits 10 seconds first."""
    starts = 0

    async def start() -> GenServer:
        nonlocal starts
        starts += 1
        if starts > 1:
            await asyncio.sleep(10.0)
        return await spec.start()

    return dataclasses.replace(spec, start=start)


async def test_count_children_counts_restarting_children_by_type_as_elixir_does(
    supervise: StartDyn, events: Events
) -> None:
    # Elixir's DynamicSupervisor: `active` leaves a restarting child out, while `specs`,
    # `supervisors` and `workers` count it under its type.
    sup = await supervise()
    inner = await sup.start_child(slow_to_restart(Supervisor.child_spec([])))
    worker = await sup.start_child(slow_to_restart(worker_spec("w", events)))
    await sup.start_child(worker_spec("steady", events))

    await inner.stop("crashed")  # an abnormal exit: restarted
    await crash(worker)
    await asyncio.sleep(1.0)

    assert await sup.count_children() == ChildCounts(3, 1, 1, 2)
    await asyncio.sleep(30.0)
    assert await settle(sup) == ChildCounts(3, 3, 1, 2)


async def test_max_children_counts_children_still_starting(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise(max_children=2)
    starting = [
        asyncio.create_task(sup.start_child(worker_spec(i, events, init_delay=5.0))) for i in "ab"
    ]
    await asyncio.sleep(1.0)

    with pytest.raises(MaxChildren):
        await sup.start_child(worker_spec("c", events))

    assert all(p.alive for p in await asyncio.gather(*starting))
    assert await sup.count_children() == ChildCounts(2, 2, 0, 2)


async def test_a_child_that_exits_for_good_frees_its_slot(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise(max_children=1)
    t = await sup.start_child(worker_spec("t", events, restart=TRANSIENT))
    await crash(t, ("stop", NORMAL))
    assert await settle(sup) == ChildCounts(0, 0, 0, 0)
    assert (await sup.start_child(worker_spec("u", events))).alive


# Restarts


async def make_exit(process: GenServer, kind: str) -> object:
    if kind == "killed":
        assert process._otp_task is not None
        process._otp_task.cancel()
        await exited(process)
        return KILLED
    if kind == "crash":
        await crash(process)
        return process.exit_reason
    reason = {"normal": NORMAL, "shutdown": SHUTDOWN, "shutdown_detail": Shutdown("done")}[kind]
    await crash(process, ("stop", reason))
    return reason


EXIT_KINDS = ["normal", "shutdown", "shutdown_detail", "crash", "killed"]
RESTART_MATRIX = [
    *[(PERMANENT, kind, True) for kind in EXIT_KINDS],
    *[(TRANSIENT, kind, kind in ("crash", "killed")) for kind in EXIT_KINDS],
    *[(TEMPORARY, kind, False) for kind in EXIT_KINDS],
]


@pytest.mark.parametrize(("restart", "kind", "restarted"), RESTART_MATRIX)
async def test_dynamic_child_is_restarted_exactly_as_its_restart_type_says(
    supervise: StartDyn, events: Events, restart: Any, kind: str, restarted: bool
) -> None:
    sup = await supervise()
    old = await sup.start_child(worker_spec("a", events, restart=restart))

    reason = await make_exit(old, kind)
    counts = await settle(sup)

    assert old.exit_reason == reason
    if restarted:
        new = await only_child(sup)
        assert new is not old
        assert new.alive
        assert await new.call("ping") == ("pong", "a")
        assert counts == ChildCounts(1, 1, 0, 1)
        assert events.count(("start", "a")) == 2
    else:
        assert await sup.which_children() == []
        assert counts == ChildCounts(0, 0, 0, 0)
        assert events.count(("start", "a")) == 1
    assert sup.alive


async def test_restarted_child_is_registered_again_under_its_via_name(
    supervise: StartDyn, events: Events
) -> None:
    registry = Registry(UNIQUE, name="dyn")
    sup = await supervise()
    old = await sup.start_child(worker_spec("a", events, name=via(registry, "a")))
    assert registry.whereis("a") is old

    await crash(old)
    await settle(sup)

    new = await only_child(sup)
    assert registry.whereis("a") is new is not old
    assert await via(registry, "a").call("ping") == ("pong", "a")
    assert registry.count() == 1


async def test_failed_restart_is_retried_until_the_child_runs(
    supervise: StartDyn, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = Attempts(lambda n: n in (2, 3))
    sup = await supervise(max_restarts=3)
    old = await sup.start_child(worker_spec("a", events, attempts=attempts))

    await crash(old)
    assert await settle(sup) == ChildCounts(1, 1, 0, 1)

    assert attempts.count == 4
    assert (await only_child(sup)).alive
    failures = [r for r in caplog.records if "restarting child 'a' failed" in r.getMessage()]
    assert len(failures) == 2


async def test_dynamic_supervisor_gives_up_past_max_restarts(
    supervise: StartDyn, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    sup = await supervise(max_restarts=2, max_seconds=5.0)
    bystander = await sup.start_child(worker_spec("b", events))
    await sup.start_child(worker_spec("a", events))

    for _ in range(2):
        [a] = [i.process for i in await sup.which_children() if i.id == "a"]
        assert a is not None
        await crash(a)
        await settle(sup)
        assert sup.alive
    [a] = [i.process for i in await sup.which_children() if i.id == "a"]
    assert a is not None
    await crash(a)
    await exited(sup)

    assert sup.exit_reason == MAX_RESTARTS_REACHED
    assert not bystander.alive
    assert bystander.exit_reason == SHUTDOWN
    assert running_tasks() == []
    assert any("reached max restart intensity" in r.getMessage() for r in caplog.records)
    with pytest.raises(NoProcess):
        await sup.start_child(worker_spec("c", events))


async def test_dynamic_restarts_spread_beyond_the_window_do_not_trip_the_limit(
    supervise: StartDyn, events: Events
) -> None:
    sup = await supervise(max_restarts=1, max_seconds=5.0)
    await sup.start_child(worker_spec("a", events))
    for _ in range(4):
        await crash(await only_child(sup))
        await settle(sup)
        assert sup.alive
        await asyncio.sleep(5.5)
    await crash(await only_child(sup))
    await settle(sup)
    await crash(await only_child(sup))  # two within 5 s: one too many
    await exited(sup)
    assert sup.exit_reason == MAX_RESTARTS_REACHED
    assert events.count(("start", "a")) == 6


async def test_child_cancelled_while_being_restarted_does_not_kill_the_dynamic_supervisor(
    supervise: StartDyn, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry(UNIQUE)
    attempts = Attempts()

    async def start() -> GenServer:
        attempts.count += 1
        delay = 0.0 if attempts.count == 1 else 10.0
        return await Worker.start("a", events, name=via(registry, "a"), init_delay=delay)

    sup = await supervise()
    await crash(await sup.start_child(ChildSpec("a", start)))
    await asyncio.sleep(1.0)  # the restart now waits in the new child's init
    restarting = registry.whereis("a")
    assert restarting is not None
    assert restarting._otp_task is not None
    restarting._otp_task.cancel()
    await asyncio.sleep(20.0)  # the retry's init takes 10 s

    assert sup.alive
    assert await sup.count_children() == ChildCounts(1, 1, 0, 1)
    assert registry.whereis("a") is await only_child(sup)
    assert attempts.count == 3
    assert any("restarting child 'a' failed" in r.getMessage() for r in caplog.records)


# Shutdown: children are stopped concurrently, each within its own budget


@pytest.mark.parametrize(
    ("shutdown", "terminate_delay", "takes", "finished", "reason"),
    [
        (5.0, 1.0, 1.0, True, SHUTDOWN),  # terminate fits the budget
        (2.0, 60.0, 2.0, False, SHUTDOWN),  # cancelled after the budget
        (0, 0.0, 0.0, True, KILLED),  # brutal kill
        (None, 30.0, 30.0, True, SHUTDOWN),  # wait as long as it takes
    ],
)
async def test_stop_shuts_all_children_down_concurrently(
    events: Events,
    shutdown: float | None,
    terminate_delay: float,
    takes: float,
    finished: bool,
    reason: object,
) -> None:
    sup = await DynamicSupervisor.start()
    children = [
        await sup.start_child(
            worker_spec(i, events, shutdown=shutdown, terminate_delay=terminate_delay)
        )
        for i in range(50)
    ]
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(takes, abs=0.01)  # not 50 times that
    assert not any(p.alive for p in children)
    assert all(p.terminated_with == reason for p in children)  # type: ignore[attr-defined]
    assert sum(e[0] == "stop" for e in events) == (50 if finished else 0)
    assert running_tasks() == []


async def test_children_with_different_budgets_are_stopped_at_the_same_time(
    events: Events,
) -> None:
    sup = await DynamicSupervisor.start()
    kinds: list[tuple[float | None, float]] = [(0, 0.0), (None, 3.0), (1.0, 60.0), (5.0, 2.0)]
    for n in range(20):
        shutdown, delay = kinds[n % 4]
        await sup.start_child(worker_spec(n, events, shutdown=shutdown, terminate_delay=delay))
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(3.0, abs=0.01)  # the longest, not the sum
    assert sum(e[0] == "stop" for e in events) == 15  # all but the five cancelled after 1 s
    assert running_tasks() == []


@pytest.mark.parametrize("inner_shutdown", [0.5, 0], ids=["after-budget", "brutal"])
async def test_dynamic_supervisor_killed_during_its_shutdown_leaves_no_child_running(
    events: Events, inner_shutdown: float
) -> None:
    inner_spec = DynamicSupervisor.child_spec(name="inner")
    inner_spec = dataclasses.replace(inner_spec, shutdown=inner_shutdown)
    root = await Supervisor.start([inner_spec])
    inner = DynamicSupervisor.whereis("inner")
    assert inner is not None
    x = await inner.start_child(worker_spec("x", events, shutdown=2.0, terminate_delay=3.0))
    started = now()
    try:
        await root.stop()  # kills inner (at once, or after 0.5 s) while it waits for x
        for _ in range(3):
            await asyncio.sleep(0)
        assert now() - started == pytest.approx(inner_shutdown, abs=0.01)
        assert inner.exit_reason == KILLED
        assert x.exit_reason == KILLED
        assert running_tasks() == []
    finally:
        left = running_tasks()
        if left:
            await asyncio.wait(left)


async def test_start_child_after_the_supervisor_stopped_raises_no_process(
    events: Events,
) -> None:
    sup = await DynamicSupervisor.start()
    await sup.stop()
    with pytest.raises(NoProcess, match="is not running"):
        await sup.start_child(worker_spec("a", events))
    assert events == []


async def test_child_that_finishes_starting_after_the_supervisor_stopped_is_stopped(
    events: Events,
) -> None:
    sup = await DynamicSupervisor.start()
    late = asyncio.create_task(sup.start_child(worker_spec("late", events, init_delay=5.0)))
    await asyncio.sleep(1.0)

    await sup.stop()

    with pytest.raises(NoProcess, match="stopped while 'late' was starting"):
        await late
    assert events == [("start", "late"), ("stop", "late")]
    assert running_tasks() == []


async def test_a_tree_stopped_during_a_start_child_stops_that_child_before_older_siblings(
    events: Events,
) -> None:
    # OTP's supervisor runs the start itself, so its parent's shutdown waits for it: the
    # child being started is the newest, and stops before the dynamic supervisor's older
    # siblings do.
    root = await Supervisor.start(
        [worker_spec("older", events), DynamicSupervisor.child_spec(name="dyn")]
    )
    dyn = DynamicSupervisor.whereis("dyn")
    assert dyn is not None
    late = asyncio.create_task(dyn.start_child(worker_spec("late", events, init_delay=5.0)))
    await asyncio.sleep(1.0)

    await root.stop()

    assert events == [("start", "older"), ("start", "late"), ("stop", "late"), ("stop", "older")]
    with pytest.raises(NoProcess, match="stopped while 'late' was starting"):
        await late
    assert now() == 5.0
    assert running_tasks() == []


async def test_a_start_child_stuck_in_init_delays_the_shutdown_by_its_budget_only(
    events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    sup = await DynamicSupervisor.start()
    stuck = asyncio.create_task(
        sup.start_child(worker_spec("stuck", events, shutdown=1.0, init_delay=100.0))
    )
    await asyncio.sleep(1.0)

    await sup.stop()

    assert now() == 1.0 + 1.0 + KILL_GRACE  # its budget, then the grace, then it gives up
    assert any("1 child(ren) still starting" in r.getMessage() for r in caplog.records)
    with pytest.raises(NoProcess, match="stopped while 'stuck' was starting"):
        await stuck  # stopped once its init returned
    assert events == [("start", "stuck"), ("stop", "stuck")]
    assert now() == 100.0


# Get-or-start through a registry


async def test_get_or_start_under_100_concurrent_callers_starts_exactly_one(
    supervise: StartDyn, events: Events
) -> None:
    registry = Registry(UNIQUE, name="sessions")
    sup = await supervise(max_children=10)

    async def get_or_start(key: str) -> GenServer:
        try:
            return await sup.start_child(
                worker_spec(key, events, name=via(registry, key), init_delay=0.5)
            )
        except AlreadyStarted as exc:
            holder: GenServer = exc.process
            return holder

    found = await asyncio.gather(*(get_or_start("alice") for _ in range(100)))

    first = found[0]
    assert all(p is first for p in found)
    assert events == [("start", "alice")]
    assert registry.whereis("alice") is first
    assert await only_child(sup) is first
    assert await asyncio.gather(*(p.call("ping") for p in found)) == [("pong", "alice")] * 100
    assert await sup.count_children() == ChildCounts(1, 1, 0, 1)


async def test_children_cancelled_with_their_supervisor_are_not_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What asyncio.run does at exit: cancel every task at once. No restart storm follows."""

    class Idle(GenServer):
        pass

    sup = await DynamicSupervisor.start()
    children = [await sup.start_child(Idle.child_spec(name=f"idle-{i}")) for i in range(20)]
    for child in children:  # the children first: the worst order for the supervisor
        assert child._otp_task is not None
        child._otp_task.cancel()
    assert sup._otp_task is not None
    sup._otp_task.cancel()
    assert await sup.wait_exit(5.0)
    assert all(not child.alive for child in children)
    assert "restarting" not in caplog.text


async def test_a_restart_that_finds_its_name_taken_again_is_dropped_not_retried() -> None:
    """A client's get-or-start raced the restart: the restart stands down, nobody dies."""
    registry = Registry()
    gate = asyncio.Event()
    starts: list[str] = []

    class Session(GenServer):
        async def init(self, key: str) -> None:
            starts.append(key)
            if key == "a" and starts.count("a") == 2:
                await gate.wait()  # a's restart keeps the supervisor busy meanwhile

        async def handle_cast(self, msg: Any) -> None:
            raise RuntimeError("crash")

    sup = await DynamicSupervisor.start(max_restarts=10, max_seconds=60)
    try:
        specs = {key: Session.child_spec(key, name=via(registry, key)) for key in "ab"}
        a, b = [await sup.start_child(specs[key]) for key in "ab"]
        a.cast("boom")
        await a.wait_exit(1)
        b.cast("boom")
        await b.wait_exit(1)
        again = await sup.start_child(specs["b"])  # the client's retry wins the race
        gate.set()
        for _ in range(10):
            await asyncio.sleep(0)
        assert sup.alive
        assert registry.whereis("b") is again
        assert starts == ["a", "b", "a", "b"]  # b's restart found the name taken and stood down
        counts = await sup.count_children()
        assert (counts.specs, counts.active) == (2, 2)
    finally:
        await sup.stop()
