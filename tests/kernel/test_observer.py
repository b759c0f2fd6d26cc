"""The observer: `otp.snapshot` of the live tree, `otp.observe` statistics, `otp.instrument`.

Every test runs on looptime's fake loop clock, so ages, uptimes and handler times are
exact: `await asyncio.sleep(2)` moves the loop's time by 2 s at once.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

import otp
import pytest
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
