"""The observer: `otp.snapshot` of the live tree, `otp.observe` statistics, `otp.instrument`.

Every test runs on looptime's fake loop clock, so ages, uptimes and handler times are
exact: `await asyncio.sleep(2)` moves the loop's time by 2 s at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

import otp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otp import (
    ONE_FOR_ALL,
    REST_FOR_ONE,
    Caller,
    DynamicSupervisor,
    GenServer,
    Registry,
    Supervisor,
    TaskSupervisor,
    _genserver,
    via,
)
from otp._deadlines import _state_of

pytestmark = pytest.mark.looptime(idle_timeout=2)  # a hang fails instead of hanging

CONTRACT_KEYS = [
    "id",
    "parent",
    "name",
    "child_id",
    "class",
    "kind",
    "status",
    "strategy",
    "restarts",
    "intensity",
    "mailbox",
    "oldest_age",
    "handler_time",
    "current",
    "uptime",
    "memory",
]


class Idle(GenServer):
    """Waits; answers "ping"."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return "pong"


class Gate(GenServer):
    """Blocks in `handle_call` until its gate opens; counts the casts it handles."""

    async def init(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.casts: list[object] = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "block":
            self.entered.set()
            await self.gate.wait()
        if request == "crash":
            raise RuntimeError("asked to crash")
        return request

    async def handle_cast(self, msg: Any) -> None:
        if msg == "crash":
            raise RuntimeError("asked to crash")
        self.casts.append(msg)

    async def handle_info(self, msg: Any) -> None:
        self.casts.append(msg)


class Flaky(GenServer):
    """Crashes on "crash"; its restarts wait for `restart_gate` in init."""

    starts = 0
    restart_gate: asyncio.Event | None = None
    restarting = asyncio.Event()  # set as a restart reaches the gate

    async def init(self) -> None:
        type(self).starts += 1
        gate = type(self).restart_gate
        if type(self).starts > 1 and gate is not None:
            type(self).restarting.set()
            await gate.wait()

    async def handle_cast(self, msg: Any) -> None:
        raise RuntimeError("flaky crashed")


@pytest.fixture
def flaky_gate() -> Any:
    """Flaky's restarts wait at this gate; it opens when the test ends, pass or fail."""
    Flaky.starts = 0
    Flaky.restarting = asyncio.Event()
    gate = Flaky.restart_gate = asyncio.Event()
    yield gate
    gate.set()
    Flaky.restart_gate = None


@pytest.fixture(autouse=True)
def observer_off() -> Any:
    """Whatever a test switched on is off again for the next one."""
    yield
    try:
        otp.observe(False)
        otp.instrument(None)
    except RuntimeError:  # (no running loop in a sync teardown)
        pass


@pytest.fixture
async def stopping() -> AsyncIterator[list[GenServer]]:
    """Processes to stop when the test ends, newest first."""
    started: list[GenServer] = []
    yield started
    for process in reversed(started):
        if process.alive:
            await process.stop()


def by_name(snap: otp.Snapshot) -> dict[str | None, otp.ProcessInfo]:
    return {p.name if p.name is not None else p.child_id: p for p in snap.processes}


async def test_a_nested_tree_has_its_parents_kinds_strategies_and_start_order(
    stopping: list[GenServer],
) -> None:
    registry = Registry(name="users")
    top = await Supervisor.start(
        [
            Idle.child_spec(name="first"),
            DynamicSupervisor.child_spec(name="sessions", max_restarts=7, max_seconds=9.0),
            Supervisor.child_spec(
                [Idle.child_spec(name="leaf")], strategy=REST_FOR_ONE, name="inner"
            ),
            TaskSupervisor.child_spec(name="jobs"),
        ],
        strategy=ONE_FOR_ALL,
        name="top",
    )
    stopping.append(top)
    sessions = otp.whereis("sessions")
    assert isinstance(sessions, DynamicSupervisor)
    for user in ("ann", "bob"):
        await sessions.start_child(Idle.child_spec(name=via(registry, user)))
    loner = await Idle.start(name="loner")  # unsupervised but named: a root of its own
    stopping.append(loner)
    stopping.append(await Idle.start())  # unsupervised, unnamed: not part of any tree
    snap = otp.snapshot()

    names = [p.name for p in snap.processes]
    assert names == [
        "top",
        "first",
        "sessions",
        "users:ann",
        "users:bob",
        "inner",
        "leaf",
        "jobs",
        "loner",
    ]
    found = by_name(snap)
    assert found["top"].parent is None
    assert found["loner"].parent is None
    for child in ("first", "sessions", "inner", "jobs"):
        assert found[child].parent == found["top"].id
        assert found[child].child_id == child
    assert found["users:ann"].parent == found["sessions"].id
    assert found["users:ann"].child_id == "via(users, 'ann')"
    assert found["leaf"].parent == found["inner"].id
    assert [found[n].kind for n in ("top", "first", "sessions", "inner", "jobs")] == [
        "supervisor",
        "worker",
        "dynamic",
        "supervisor",
        "dynamic",
    ]
    assert found["top"].strategy == "one_for_all"
    assert found["inner"].strategy == "rest_for_one"
    assert found["sessions"].strategy == "one_for_one"
    assert found["first"].strategy is None
    assert found["sessions"].intensity == otp.Intensity(0, 7, 9.0)
    assert found["first"].intensity is None
    assert found["users:bob"].cls == "Idle"
    assert found["top"].cls == "Supervisor"
    assert {p.status for p in snap.processes} == {"running"}
    assert len({p.id for p in snap.processes}) == len(snap.processes)
    assert all(p.memory > 0 for p in snap.processes)

    as_dict = snap.as_dict()
    assert as_dict["version"] == 1
    assert json.loads(json.dumps(as_dict)) == as_dict
    first = as_dict["processes"][0]
    assert list(first) == CONTRACT_KEYS
    assert first["class"] == "Supervisor"
    assert first["intensity"] == {"restarts": 0, "max_restarts": 3, "max_seconds": 5.0}

    # A subtree on its own: its root has no parent there.
    inner = otp.snapshot(otp.whereis("inner"))
    assert [(p.name, p.parent) for p in inner.processes] == [
        ("inner", None),
        ("leaf", inner.processes[0].id),
    ]
    await sessions.stop()  # (its parent restarts it: a ONE_FOR_ALL restart of everything)
    for process in otp.snapshot().processes:
        assert process.name != "users:ann"


async def test_uptime_counts_from_the_start_on_the_loop_clock(stopping: list[GenServer]) -> None:
    server = await Idle.start(name="server")
    stopping.append(server)
    await asyncio.sleep(12.5)
    (info,) = otp.snapshot(server).processes
    assert info.uptime == pytest.approx(12.5)


async def test_a_crashing_child_shows_its_restarts_and_a_restarting_status(
    stopping: list[GenServer], flaky_gate: asyncio.Event
) -> None:
    gate = flaky_gate
    sup = await Supervisor.start([Flaky.child_spec(name="flaky")], name="sup")
    stopping.append(sup)
    flaky = otp.whereis("flaky")
    assert flaky is not None
    flaky.cast("crash")
    await Flaky.restarting.wait()  # the supervisor is restarting it: its init waits at the gate
    sup_info, child = otp.snapshot().processes
    assert child.status == "restarting"
    assert child.id == f"{sup_info.id}/flaky"
    assert (child.parent, child.child_id, child.cls, child.restarts) == (
        sup_info.id,
        "flaky",
        "Flaky",
        1,
    )
    assert sup_info.current == "handle_info"
    assert sup_info.intensity == otp.Intensity(1, 3, 5.0)
    gate.set()
    await asyncio.sleep(0.01)
    sup_info, child = otp.snapshot().processes
    assert (child.status, child.restarts, child.name) == ("running", 1, "flaky")
    # Restarts leave the intensity window; the child's count stays.
    await asyncio.sleep(6)
    sup_info, child = otp.snapshot().processes
    assert sup_info.intensity == otp.Intensity(0, 3, 5.0)
    assert child.restarts == 1


async def test_a_dynamic_supervisors_restarting_child_keeps_its_count(
    stopping: list[GenServer], flaky_gate: asyncio.Event
) -> None:
    gate = flaky_gate
    registry = Registry(name="r")
    dyn = await DynamicSupervisor.start(name="dyn")
    stopping.append(dyn)
    await dyn.start_child(Idle.child_spec(name=via(registry, "steady")))
    flaky = await dyn.start_child(Flaky.child_spec(name=via(registry, "flaky")))
    flaky.cast("crash")
    await Flaky.restarting.wait()
    dyn_info, steady, restarting = otp.snapshot().processes
    assert steady.name == "r:steady"
    assert (restarting.status, restarting.restarts, restarting.parent) == (
        "restarting",
        1,
        dyn_info.id,
    )
    assert restarting.child_id == "via(r, 'flaky')"
    gate.set()
    await asyncio.sleep(0.01)
    again = registry.whereis("flaky")
    assert again is not None
    again.cast("crash")  # its second restart (the gate is open now)
    await asyncio.sleep(0.01)
    _, steady, info = otp.snapshot().processes
    assert (info.name, info.status, info.restarts, steady.restarts) == (
        "r:flaky",
        "running",
        2,
        0,
    )


async def test_mailbox_oldest_age_handler_time_and_current_of_a_blocked_server(
    stopping: list[GenServer],
) -> None:
    otp.observe(True)
    server = await Gate.start(name="gate")
    stopping.append(server)
    blocked = asyncio.create_task(server.call("block", timeout=None))
    await server.entered.wait()
    server.cast("a")
    await asyncio.sleep(2)
    server.send("b")
    server.cast("c")
    await asyncio.sleep(1)
    (info,) = otp.snapshot(server).processes
    assert info.mailbox == 3
    assert info.oldest_age == pytest.approx(3.0)
    assert info.current == "handle_call"
    assert info.handler_time == pytest.approx(3.0)  # the call runs still
    assert info.memory > 0
    server.gate.set()
    assert await blocked == "block"
    await server.call("sync")
    (info,) = otp.snapshot(server).processes
    assert (info.mailbox, info.oldest_age, info.current) == (0, None, None)
    assert info.handler_time == pytest.approx(3.0)
    assert server.casts == ["a", "b", "c"]


async def test_messages_queued_before_observing_have_no_known_age(
    stopping: list[GenServer],
) -> None:
    server = await Gate.start()
    stopping.append(server)
    blocked = asyncio.create_task(server.call("block", timeout=None))
    await server.entered.wait()
    server.cast("before")
    otp.observe(True)
    server.cast("after")
    await asyncio.sleep(1)
    (info,) = otp.snapshot(server).processes
    assert (info.mailbox, info.oldest_age) == (2, None)
    server.gate.set()
    await blocked
    blocker = asyncio.create_task(server.call("block", timeout=None))
    server.gate.clear()
    await asyncio.sleep(0)
    server.cast("late")
    await asyncio.sleep(4)
    (info,) = otp.snapshot(server).processes
    assert info.oldest_age == pytest.approx(4.0)  # only timed messages wait now
    server.gate.set()
    await blocker


async def test_with_observing_off_the_statistics_stay_at_zero(stopping: list[GenServer]) -> None:
    server = await Gate.start()
    stopping.append(server)
    blocked = asyncio.create_task(server.call("block", timeout=None))
    await server.entered.wait()
    server.cast("waiting")
    await asyncio.sleep(5)
    (info,) = otp.snapshot(server).processes
    assert (info.mailbox, info.oldest_age, info.handler_time) == (1, None, 0.0)
    assert info.current == "handle_call"  # (free: read from what the process holds)
    otp.observe(True)
    otp.observe(False)
    (info,) = otp.snapshot(server).processes
    assert (info.oldest_age, info.handler_time) == (None, 0.0)
    server.gate.set()
    await blocked


async def test_a_stopped_process_disappears(stopping: list[GenServer]) -> None:
    keep = await Idle.start(name="keep")
    stopping.append(keep)
    gone = await Idle.start(name="gone")
    assert [p.name for p in otp.snapshot().processes] == ["keep", "gone"]
    await gone.stop()
    assert [p.name for p in otp.snapshot().processes] == ["keep"]
    with pytest.raises(TypeError, match="root must be a GenServer"):
        otp.snapshot("keep")  # type: ignore[arg-type]


async def test_an_observed_process_that_exits_is_let_go() -> None:
    otp.observe(True)
    try:
        server = await Idle.start()
        assert await server.call("ping") == "pong"  # it has statistics now
        ref = weakref.ref(server)
        killed = await Idle.start()
        assert await killed.call("ping") == "pong"
        killed_ref = weakref.ref(killed)
        await server.stop()
        killed._otp_kill()
        await killed.wait_exit()
        del server, killed
        gc.collect()
        assert ref() is None  # the statistics table held it no longer
        assert killed_ref() is None
        table = _state_of(asyncio.get_running_loop()).stats
        assert table == {}
    finally:
        otp.observe(False)


async def test_snapshot_async_lets_other_tasks_run_between_chunks(
    stopping: list[GenServer],
) -> None:
    dyn = await DynamicSupervisor.start(name="many")
    stopping.append(dyn)
    for _ in range(50):
        await dyn.start_child(Idle.child_spec())
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    otp.snapshot()
    assert ticks == before  # the sync one runs in one go
    snap = await otp.snapshot_async(chunk=10)
    assert len(snap.processes) == 51
    assert ticks - before >= 5  # 51 processes: at least five turns of the loop
    task.cancel()
    with pytest.raises(ValueError, match="chunk must be an int >= 1"):
        await otp.snapshot_async(chunk=0)


async def test_snapshot_async_skips_a_process_that_exits_meanwhile(
    stopping: list[GenServer],
) -> None:
    dyn = await DynamicSupervisor.start(name="pool")
    stopping.append(dyn)
    children = [await dyn.start_child(Idle.child_spec()) for _ in range(4)]
    walk = asyncio.create_task(otp.snapshot_async(chunk=1))
    await asyncio.sleep(0)  # the walk has taken the pool's children and yielded
    await dyn.terminate_child(children[3])
    snap = await walk
    assert len(snap.processes) == 4  # the pool and the 3 children left


class Recorder:
    """Hooks that record what they see; tokens say where they were made."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, object, object]] = []
        self.errors: list[BaseException | None] = []

    def on_call(self, process: GenServer, request: object) -> object:
        return ("call-token", request, asyncio.current_task())

    def on_cast(self, process: GenServer, msg: object) -> object:
        return ("cast-token", msg, asyncio.current_task())

    def on_handle(self, process: GenServer, kind: str, msg: object, token: object) -> object:
        self.handled.append((kind, msg, token))
        assert asyncio.current_task() is process._otp_task  # in the server
        return ("state", msg)

    def on_handled(self, process: GenServer, state: object, error: BaseException | None) -> None:
        assert state == ("state", self.handled[-1][1])
        self.errors.append(error)


async def test_hooks_carry_the_callers_token_to_the_server_and_see_errors(
    stopping: list[GenServer],
) -> None:
    hooks = Recorder()
    otp.instrument(hooks)
    server = await Gate.start()
    stopping.append(server)
    me = asyncio.current_task()
    assert await server.call("hello") == "hello"
    server.cast("note")
    server.send("info")
    await server.call("sync")
    assert hooks.handled == [
        ("call", "hello", ("call-token", "hello", me)),
        ("cast", "note", ("cast-token", "note", me)),
        ("info", "info", None),
        ("call", "sync", ("call-token", "sync", me)),
    ]
    assert hooks.errors == [None, None, None, None]

    crashing = await Gate.start()
    with pytest.raises(otp.NoProcess):
        await crashing.call("crash")
    assert isinstance(hooks.errors[-1], RuntimeError)
    assert str(hooks.errors[-1]) == "asked to crash"

    otp.instrument(None)
    await server.call("quiet")
    server.cast("quiet")
    await server.call("sync")
    assert len(hooks.handled) == 5
    assert server.casts == ["note", "info", "quiet"]


async def test_a_crashing_cast_with_a_token_fails_no_caller(stopping: list[GenServer]) -> None:
    # A cast's token sits where a call's caller does: an exit must not take it for one.
    hooks = Recorder()
    otp.instrument(hooks)
    server = await Gate.start()
    blocked = asyncio.create_task(server.call("block", timeout=None))
    await server.entered.wait()
    server.cast("crash")
    server.cast("queued")
    queued_call = asyncio.create_task(server.call("after", timeout=None))
    await asyncio.sleep(0)
    server.gate.set()
    assert await blocked == "block"
    with pytest.raises(otp.NoProcess):
        await queued_call
    assert isinstance(hooks.errors[-1], RuntimeError)


async def test_a_hooked_call_still_times_out_at_its_deadline(
    stopping: list[GenServer],
) -> None:
    # The hooks swap a queued call's Caller for one that carries the token: it must keep
    # the call's deadline, which the loop's sweep reads.
    otp.instrument(Recorder())
    server = await Gate.start()
    stopping.append(server)
    blocked = asyncio.create_task(server.call("block", timeout=None))
    await server.entered.wait()
    started = asyncio.get_running_loop().time()
    with pytest.raises(otp.CallTimeout):
        await server.call("queued", timeout=3)
    assert asyncio.get_running_loop().time() - started == 3
    server.gate.set()
    assert await blocked == "block"


async def test_a_raising_hook_is_logged_and_the_message_handled(
    stopping: list[GenServer], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Recorder):
        def on_handle(self, process: GenServer, kind: str, msg: object, token: object) -> object:
            raise ValueError("broken hook")

        def on_handled(
            self, process: GenServer, state: object, error: BaseException | None
        ) -> None:
            self.errors.append(error)

    otp.instrument(Broken())
    server = await Gate.start()
    stopping.append(server)
    assert await server.call("still answered") == "still answered"
    assert "instrumentation hook" in caplog.text
    assert "broken hook" in caplog.text


async def test_two_event_loops_see_only_their_own_processes() -> None:
    async def on_a_loop_of_its_own(label: str) -> tuple[list[str | None], weakref.ref[Supervisor]]:
        otp.observe(True)
        otp.instrument(Recorder())
        sup = await Supervisor.start([Idle.child_spec(name=f"{label}-child")], name=f"{label}-sup")
        names = [p.name for p in otp.snapshot().processes]
        ref = weakref.ref(sup)
        await sup.stop()
        return names, ref

    first, first_ref = await asyncio.to_thread(asyncio.run, on_a_loop_of_its_own("one"))
    second, _ = await asyncio.to_thread(asyncio.run, on_a_loop_of_its_own("two"))
    assert first == ["one-sup", "one-child"]
    assert second == ["two-sup", "two-child"]
    assert [p.name for p in otp.snapshot().processes] == []  # this loop's: none
    gc.collect()
    assert first_ref() is None
    # Their loops are closed: once this loop's setting changes, no message anywhere pays
    # for the slow path any more.
    otp.observe(False)
    assert _genserver._instrumented is False


async def test_observe_needs_a_running_loop() -> None:
    def outside() -> None:
        otp.observe(True)

    with pytest.raises(RuntimeError, match=r"otp.observe\(\) needs a running event loop"):
        await asyncio.to_thread(outside)


class Holder(GenServer):
    """Holds a big list in an attribute."""

    async def init(self) -> None:
        self.items = list(range(10_000))


async def test_memory_counts_the_containers_a_process_holds(stopping: list[GenServer]) -> None:
    idle = await Idle.start()
    holder = await Holder.start()
    stopping.extend([idle, holder])
    (idle_info,) = otp.snapshot(idle).processes
    (holder_info,) = otp.snapshot(holder).processes
    assert idle_info.memory > 0
    assert holder_info.memory - idle_info.memory >= 80_000  # the list's 10,000 pointers
    blocked = await Gate.start()
    stopping.append(blocked)
    waiting = asyncio.create_task(blocked.call("block", timeout=None))
    await blocked.entered.wait()
    (before,) = otp.snapshot(blocked).processes
    for i in range(100):
        blocked.cast(i)
    (after,) = otp.snapshot(blocked).processes
    assert after.memory > before.memory  # its waiting messages count
    blocked.gate.set()
    await waiting


class SlowContinue(GenServer):
    """Finishes its setup in handle_continue, which waits for a gate."""

    async def init(self) -> otp.Continue:
        self.gate = asyncio.Event()
        return otp.Continue("setup")

    async def handle_continue(self, arg: Any) -> None:
        await self.gate.wait()


async def test_handle_continue_shows_as_current_and_counts_as_handler_time(
    stopping: list[GenServer],
) -> None:
    otp.observe(True)
    server = await SlowContinue.start()
    stopping.append(server)
    await asyncio.sleep(1.5)
    (info,) = otp.snapshot(server).processes
    assert (info.current, info.status) == ("handle_continue", "running")
    assert info.handler_time == pytest.approx(1.5)
    server.gate.set()
    await asyncio.sleep(0)
    (info,) = otp.snapshot(server).processes
    assert info.current is None
    assert info.handler_time == pytest.approx(1.5)


async def test_depth_stops_the_walk_that_many_levels_down(stopping: list[GenServer]) -> None:
    registry = Registry(name="depth-users")
    top = await Supervisor.start(
        [
            Idle.child_spec(name="d-first"),
            DynamicSupervisor.child_spec(name="d-sessions"),
            Supervisor.child_spec([Idle.child_spec(name="d-leaf")], name="d-inner"),
        ],
        name="d-top",
    )
    stopping.append(top)
    sessions = otp.whereis("d-sessions")
    assert isinstance(sessions, DynamicSupervisor)
    await sessions.start_child(Idle.child_spec(name=via(registry, "ann")))

    def names(snap: otp.Snapshot) -> list[str | None]:
        return [p.name for p in snap.processes]

    assert names(otp.snapshot(top, depth=1)) == ["d-top"]
    assert names(otp.snapshot(top, depth=2)) == ["d-top", "d-first", "d-sessions", "d-inner"]
    assert names(await otp.snapshot_async(top, depth=2)) == names(otp.snapshot(top, depth=2))
    whole = ["d-top", "d-first", "d-sessions", "depth-users:ann", "d-inner", "d-leaf"]
    assert names(otp.snapshot(top, depth=3)) == whole
    assert names(otp.snapshot(top)) == whole
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="depth must be an int >= 1 or None"):
            otp.snapshot(top, depth=bad)  # type: ignore[arg-type]


# Snapshots with a limit: the children that need attention, and summaries of the rest


class Sink(GenServer):
    """Takes casts and drops them."""

    async def handle_cast(self, msg: Any) -> None:
        return None


async def start_gate(pool: DynamicSupervisor) -> Gate:
    gate = await pool.start_child(Gate.child_spec())
    assert isinstance(gate, Gate)
    return gate


def children_of(snap: otp.Snapshot, parent: str) -> list[otp.ProcessInfo]:
    return [p for p in snap.processes if p.parent == parent]


async def test_a_backlogged_child_at_the_end_of_ten_thousand_is_shown(
    stopping: list[GenServer],
) -> None:
    pool = await DynamicSupervisor.start(name="pool")
    stopping.append(pool)
    workers = [await pool.start_child(Sink.child_spec()) for _ in range(10_000)]
    for _ in range(3):
        workers[-1].cast("waiting")
    workers[5].cast("waiting")  # (no await from here: they stay in the mailboxes)
    snap = otp.snapshot(limit=4)
    pool_info = snap.processes[0]
    shown = children_of(snap, pool_info.id)
    # The two backlogged ones first, then the first in start order, in start order.
    assert [p.id for p in shown] == [f"p{id(workers[i]):x}" for i in (0, 1, 5, 9_999)]
    assert [p.mailbox for p in shown] == [0, 0, 1, 3]
    assert snap.summaries == {
        pool_info.id: otp.ChildrenSummary(
            children=10_000,
            shown=4,
            mailbox=4,
            backlogged=2,
            largest_mailbox=3,
            restarting=0,
            starting=0,
            stopping=0,
            restarts=0,
            supervisors=0,
        )
    }
    as_dict = snap.as_dict()
    assert as_dict["version"] == 1
    assert as_dict["summaries"][pool_info.id]["children"] == 10_000
    assert list(as_dict["summaries"][pool_info.id]) == list(otp.ChildrenSummary._fields)
    assert json.loads(json.dumps(as_dict)) == as_dict


async def test_the_longest_mailboxes_win_when_more_are_backlogged_than_the_limit(
    stopping: list[GenServer],
) -> None:
    pool = await DynamicSupervisor.start(name="pool")
    stopping.append(pool)
    workers = [await pool.start_child(Sink.child_spec()) for _ in range(20)]
    for index, waiting in [(2, 1), (4, 5), (9, 2), (15, 5), (19, 3)]:
        for _ in range(waiting):
            workers[index].cast("waiting")
    snap = otp.snapshot(limit=3)
    shown = children_of(snap, snap.processes[0].id)
    # 5, 5 and 3 messages; the tie at 5 keeps both; start order in the output.
    assert [p.id for p in shown] == [f"p{id(workers[i]):x}" for i in (4, 15, 19)]
    summary = snap.summaries[snap.processes[0].id]
    assert (summary.mailbox, summary.backlogged, summary.largest_mailbox) == (16, 5, 5)


async def test_a_restarting_child_is_shown_and_counted(
    stopping: list[GenServer], flaky_gate: asyncio.Event
) -> None:
    registry = Registry(name="r")
    dyn = await DynamicSupervisor.start(name="dyn")
    stopping.append(dyn)
    for i in range(30):
        await dyn.start_child(Idle.child_spec(name=via(registry, i)))
    flaky = await dyn.start_child(Flaky.child_spec(name=via(registry, "flaky")))
    await dyn.start_child(Idle.child_spec(name=via(registry, "last")))
    flaky.cast("crash")
    await Flaky.restarting.wait()  # its restart waits at the gate
    snap = otp.snapshot(limit=2)
    dyn_info = snap.processes[0]
    shown = children_of(snap, dyn_info.id)
    assert [(p.name, p.status) for p in shown] == [("r:0", "running"), (None, "restarting")]
    assert shown[1].child_id == "via(r, 'flaky')"
    summary = snap.summaries[dyn_info.id]
    assert (summary.children, summary.shown, summary.restarting, summary.restarts) == (
        32,
        2,
        1,
        1,
    )
    gate = flaky_gate
    gate.set()
    await asyncio.sleep(0.01)
    # Running again: its one restart still puts it before the idle ones.
    snap = otp.snapshot(limit=2)
    shown = children_of(snap, snap.processes[0].id)
    assert [(p.name, p.restarts) for p in shown] == [("r:0", 0), ("r:flaky", 1)]
    assert snap.summaries[snap.processes[0].id].restarts == 1


async def test_limit_zero_shows_no_child_but_counts_them_all(
    stopping: list[GenServer],
) -> None:
    top = await Supervisor.start(
        [
            Sink.child_spec(name="a"),
            DynamicSupervisor.child_spec(name="inner"),
            Sink.child_spec(name="b"),
        ],
        name="top",
    )
    stopping.append(top)
    inner = otp.whereis("inner")
    assert isinstance(inner, DynamicSupervisor)
    for _ in range(5):
        await inner.start_child(Sink.child_spec())
    b = otp.whereis("b")
    assert b is not None
    b.cast("x")
    b.cast("y")
    snap = otp.snapshot(limit=0)
    assert [p.name for p in snap.processes] == ["top"]
    # The left-out DynamicSupervisor's own children are in no summary: it says so.
    assert snap.summaries == {
        snap.processes[0].id: otp.ChildrenSummary(3, 0, 2, 1, 2, 0, 0, 0, 0, 1)
    }


async def test_summaries_are_empty_when_nothing_was_left_out(
    stopping: list[GenServer],
) -> None:
    pool = await DynamicSupervisor.start(name="pool")
    stopping.append(pool)
    for _ in range(3):
        await pool.start_child(Sink.child_spec())
    whole = otp.snapshot()
    for limit in (3, 4, 1000):
        limited = otp.snapshot(limit=limit)
        assert limited.summaries == {}
        assert limited.processes == whole.processes
        assert limited.as_dict()["summaries"] == {}
    assert whole.as_dict()["summaries"] == {}
    assert otp.snapshot(limit=2).summaries[whole.processes[0].id].shown == 2


async def test_depth_and_limit_combine_and_a_bad_limit_is_refused(
    stopping: list[GenServer],
) -> None:
    top = await Supervisor.start(
        [DynamicSupervisor.child_spec(name="pool"), Sink.child_spec(name="last")], name="top"
    )
    stopping.append(top)
    pool = otp.whereis("pool")
    assert isinstance(pool, DynamicSupervisor)
    for _ in range(4):
        await pool.start_child(Sink.child_spec())
    snap = otp.snapshot(depth=2, limit=1)
    assert [p.name for p in snap.processes] == ["top", "pool"]
    assert list(snap.summaries) == [snap.processes[0].id]  # the pool's were not walked
    deeper = otp.snapshot(depth=3, limit=1)
    assert len(deeper.processes) == 3
    assert deeper.summaries[deeper.processes[1].id].children == 4
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"^limit must be an int >= 0 or None, got: "):
            otp.snapshot(limit=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^limit must be an int >= 0 or None, got: "):
            await otp.snapshot_async(limit=bad)  # type: ignore[arg-type]


async def test_asked_to_while_observed_the_busiest_come_after_mailboxes_and_restarts(
    stopping: list[GenServer],
) -> None:
    otp.observe(True)
    pool = await DynamicSupervisor.start(name="pool")
    stopping.append(pool)
    workers = [await start_gate(pool) for _ in range(6)]
    blocked = asyncio.create_task(workers[3].call("block", timeout=None))
    await workers[3].entered.wait()
    await asyncio.sleep(2)  # workers[3] has been in handle_call for 2 s
    workers[5].cast("waiting")
    snap = otp.snapshot(limit=1)  # a waiting message comes first
    assert [p.id for p in children_of(snap, snap.processes[0].id)] == [f"p{id(workers[5]):x}"]
    # Unless asked, handler time does not rank: the first in start order fills up.
    snap = otp.snapshot(limit=2)
    shown = children_of(snap, snap.processes[0].id)
    assert [p.id for p in shown] == [f"p{id(workers[i]):x}" for i in (0, 5)]
    assert shown[0].handler_time == 0.0
    snap = otp.snapshot(limit=2, by_handler_time=True)
    shown = children_of(snap, snap.processes[0].id)
    assert [p.id for p in shown] == [f"p{id(workers[i]):x}" for i in (3, 5)]
    assert shown[0].handler_time == pytest.approx(2.0)
    otp.observe(False)
    workers[3].gate.set()
    await blocked
    await workers[5].call("sync")
    # Not observed: no handler time, so the first two in start order.
    snap = otp.snapshot(limit=2)
    shown = children_of(snap, snap.processes[0].id)
    assert [p.id for p in shown] == [f"p{id(workers[i]):x}" for i in (0, 1)]


async def test_snapshot_async_with_a_limit_equals_snapshot(stopping: list[GenServer]) -> None:
    top = await Supervisor.start(
        [DynamicSupervisor.child_spec(name="pool"), Gate.child_spec(name="gate")], name="top"
    )
    stopping.append(top)
    pool = otp.whereis("pool")
    gate = otp.whereis("gate")
    assert isinstance(pool, DynamicSupervisor)
    assert isinstance(gate, Gate)
    workers = [await start_gate(pool) for _ in range(12)]
    calls = [asyncio.create_task(w.call("block", timeout=None)) for w in (gate, *workers[6:9])]
    for index, worker in enumerate(workers[6:9]):
        await worker.entered.wait()
        for _ in range(index + 1):
            worker.cast("waiting")  # (blocked: the messages stay in the mailbox)
    await gate.entered.wait()
    snap = otp.snapshot(limit=4)
    for chunk in (1, 3, 2000):
        other = await otp.snapshot_async(limit=4, chunk=chunk)
        assert (other.processes, other.summaries) == (snap.processes, snap.summaries)
    shown = children_of(snap, snap.processes[1].id)
    assert [p.mailbox for p in shown] == [0, 1, 2, 3]
    assert snap.summaries[snap.processes[1].id].mailbox == 6
    for worker in (gate, *workers[6:9]):
        worker.gate.set()
    await asyncio.gather(*calls)


class Crashy(GenServer):
    """Takes casts; crashes on "crash"."""

    async def handle_cast(self, msg: Any) -> None:
        if msg == "crash":
            raise RuntimeError("asked to crash")


# A child of the root: a worker's mailbox length, or a pool's children as (mailbox
# length, crashes before) each.
_child = st.one_of(
    st.integers(0, 3),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), max_size=12),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=st.lists(_child, max_size=6), limit=st.integers(0, 5))
async def test_a_limited_snapshot_shows_or_counts_every_child_of_a_random_tree(
    tree: list[int | list[tuple[int, int]]], limit: int
) -> None:
    specs = [
        dataclasses.replace(
            Crashy.child_spec()
            if isinstance(node, int)
            else DynamicSupervisor.child_spec(max_restarts=100),
            id=i,
        )
        for i, node in enumerate(tree)
    ]
    root = await Supervisor.start(specs, max_restarts=100)
    try:
        waiting: list[tuple[GenServer, int]] = []
        for (_, child, _, _), node in zip(await root.which_children(), tree, strict=True):
            assert child is not None
            if isinstance(node, int):
                waiting.append((child, node))
                continue
            assert isinstance(child, DynamicSupervisor)
            for messages, crashes in node:
                worker = await child.start_child(Crashy.child_spec())
                for _ in range(crashes):
                    worker.cast("crash")
                    await asyncio.sleep(0.01)  # (restarted by now)
                    again = (await child.which_children())[-1].process
                    assert again is not None
                    worker = again
                waiting.append((worker, messages))
        for worker, messages in waiting:
            for _ in range(messages):
                worker.cast("waiting")
        # (No await from here: the mailboxes stay as they are.)
        full = otp.snapshot(root)
        limited = otp.snapshot(root, limit=limit)
    finally:
        await root.stop()

    by_id = {p.id: p for p in full.processes}
    # What is shown is shown as in the full snapshot, in the same order.
    assert all(by_id[p.id] == p for p in limited.processes)
    order = [p.id for p in full.processes]
    positions = [order.index(p.id) for p in limited.processes]
    assert positions == sorted(positions)
    shown_ids = {p.id for p in limited.processes}
    for parent in limited.processes:
        if parent.kind == "worker":
            continue
        everyone = [p for p in full.processes if p.parent == parent.id]
        shown = [p for p in everyone if p.id in shown_ids]
        hidden = [p for p in everyone if p.id not in shown_ids]
        assert len(shown) == min(limit, len(everyone))
        summary = limited.summaries.get(parent.id)
        if not hidden:
            assert summary is None
            continue
        assert summary == otp.ChildrenSummary(
            children=len(everyone),
            shown=len(shown),
            mailbox=sum(p.mailbox for p in everyone),
            backlogged=sum(1 for p in everyone if p.mailbox),
            largest_mailbox=max(p.mailbox for p in everyone),
            restarting=sum(1 for p in everyone if p.status == "restarting"),
            starting=sum(1 for p in everyone if p.status == "starting"),
            stopping=sum(1 for p in everyone if p.status == "stopping"),
            restarts=sum(p.restarts for p in everyone),
            supervisors=sum(1 for p in hidden if p.kind != "worker"),
        )
        # Attention first: as many of the backlogged as fit, then of the restarted.
        backlogged = sum(1 for p in everyone if p.mailbox)
        assert sum(1 for p in shown if p.mailbox) == min(limit, backlogged)
        restarted = sum(1 for p in everyone if p.restarts and not p.mailbox)
        assert sum(1 for p in shown if p.restarts and not p.mailbox) == min(
            limit - min(limit, backlogged), restarted
        )
    assert set(limited.summaries) <= shown_ids


async def test_a_pool_with_no_children_and_a_long_mailbox_has_nothing_to_sum_up(
    stopping: list[GenServer],
) -> None:
    # (Its messages could be restarts: choosing looks at them, and finds none.)
    otp.observe(True)
    pool = await DynamicSupervisor.start(name="pool")
    stopping.append(pool)
    for _ in range(3):
        pool.send("noise")
    snap = otp.snapshot(pool, limit=1)
    assert [(p.name, p.mailbox) for p in snap.processes] == [("pool", 3)]
    assert snap.summaries == {}
