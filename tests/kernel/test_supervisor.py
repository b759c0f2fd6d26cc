"""Supervisor conformance: start and stop order, restart strategies and intensity, shutdown
budgets, the child API, and crash reports, modelled on OTP's supervisor_SUITE.

Every test runs on looptime's fake loop clock: sleeps are instant, restart windows and
shutdown budgets are measured with `loop.time()`, and a test that hangs fails (idle_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

import pytest
from helpers import (
    Attempts,
    Boom,
    Events,
    Worker,
    child,
    crash,
    exited,
    running_tasks,
    settle,
    stop_if_alive,
    worker_spec,
)
from otp import (
    KILLED,
    MAX_RESTARTS_REACHED,
    NORMAL,
    ONE_FOR_ALL,
    ONE_FOR_ONE,
    PERMANENT,
    REST_FOR_ONE,
    SHUTDOWN,
    SUPERVISOR,
    TEMPORARY,
    TRANSIENT,
    WORKER,
    AlreadyPresent,
    AlreadyStarted,
    ChildCounts,
    ChildInfo,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildSpec,
    ChildSpecError,
    GenServer,
    NoProcess,
    Shutdown,
    StartChildError,
    Strategy,
    Supervisor,
    whereis,
)

pytestmark = pytest.mark.looptime(idle_timeout=2)  # a hang fails instead of hanging

StartSup = Callable[..., Awaitable[Supervisor]]


@pytest.fixture
async def supervise() -> AsyncIterator[StartSup]:
    """Start supervisors that are stopped when the test ends (if the test did not)."""
    started: list[Supervisor] = []

    async def start(children: list[ChildSpec], **options: Any) -> Supervisor:
        sup = await Supervisor.start(children, **options)
        started.append(sup)
        return sup

    yield start
    await stop_if_alive(*reversed(started))


@pytest.fixture
def events() -> Events:
    return []


def now() -> float:
    return asyncio.get_running_loop().time()


def starts(events: Events, child_id: Hashable) -> int:
    return events.count(("start", child_id))


async def processes(sup: Supervisor) -> dict[Hashable, GenServer | None]:
    return {info.id: info.process for info in await sup.which_children()}


def gave_up(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "reached max restart intensity" in r.getMessage()]


# Start and stop order


async def test_children_start_in_order_and_stop_in_reverse_order(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "abc"])
    assert events == [("start", "a"), ("start", "b"), ("start", "c")]
    children = list((await processes(sup)).values())

    await sup.stop()

    assert events[3:] == [("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert not any(p is not None and p.alive for p in children)
    assert sup.exit_reason == NORMAL


async def test_nested_supervisor_is_stopped_with_all_its_children_in_order(
    supervise: StartSup, events: Events
) -> None:
    inner_spec = Supervisor.child_spec([worker_spec(i, events) for i in "xy"], name="inner")
    assert (inner_spec.id, inner_spec.type, inner_spec.shutdown) == ("inner", SUPERVISOR, None)
    sup = await supervise([worker_spec("a", events), inner_spec, worker_spec("b", events)])
    inner = whereis("inner")
    assert isinstance(inner, Supervisor)
    assert (await processes(sup))["inner"] is inner
    grandchildren = list((await processes(inner)).values())
    assert events == [("start", "a"), ("start", "x"), ("start", "y"), ("start", "b")]

    await sup.stop()

    assert events[4:] == [("stop", "b"), ("stop", "y"), ("stop", "x"), ("stop", "a")]
    assert inner.exit_reason == SHUTDOWN
    assert not any(p is not None and p.alive for p in grandchildren)
    assert whereis("inner") is None


@pytest.mark.parametrize("inner_shutdown", [0.5, 0], ids=["after-budget", "brutal"])
async def test_supervisor_killed_during_its_shutdown_leaves_no_child_running(
    events: Events, inner_shutdown: float
) -> None:
    inner_spec = Supervisor.child_spec(
        [worker_spec("x", events, shutdown=2.0, terminate_delay=3.0)], name="inner"
    )
    inner_spec = dataclasses.replace(inner_spec, shutdown=inner_shutdown)
    root = await Supervisor.start([inner_spec])
    inner = await child(root, "inner")
    x = await child(inner, "x")
    started = now()
    try:
        await root.stop()  # kills inner (at once, or after 0.5 s) while it waits for x
        for _ in range(3):
            await asyncio.sleep(0)
        assert now() - started == pytest.approx(inner_shutdown, abs=0.01)
        assert inner.exit_reason == KILLED
        assert x.exit_reason == KILLED  # x must not outlive its killed supervisor by 3 s
        assert running_tasks() == []
    finally:
        left = running_tasks()
        if left:
            await asyncio.wait(left)


async def test_cancelling_supervisor_start_stops_the_children_it_had_started(
    events: Events,
) -> None:
    starting = asyncio.create_task(
        Supervisor.start(
            [worker_spec("a", events, name="a"), worker_spec("b", events, init_delay=10.0)],
            name="sup",
        )
    )
    await asyncio.sleep(1.0)  # a runs; b is in its init
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    await asyncio.sleep(0.1)

    assert events == [("start", "a"), ("stop", "a")]
    assert whereis("a") is None
    assert whereis("sup") is None
    assert running_tasks() == []
    assert running_tasks("Supervisor") == []


# Start failures


async def test_start_raises_start_child_error_naming_the_child_whose_start_raised(
    events: Events,
) -> None:
    specs = [
        worker_spec("a", events, name="a"),
        worker_spec("b", events, name="b"),
        worker_spec("c", events, name="c", attempts=Attempts(lambda n: True)),
        worker_spec("d", events, name="d"),
    ]
    with pytest.raises(StartChildError) as failure:
        await Supervisor.start(specs, name="sup")

    error = failure.value
    assert error.child_id == "c"
    assert isinstance(error.reason, Boom)
    assert str(error) == f"child 'c' failed to start: {error.reason!r}"
    # The ones started before it are stopped again, in reverse order; d never starts.
    assert events == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    assert [whereis(name) for name in ("a", "b", "c", "d", "sup")] == [None] * 5
    assert running_tasks() == []
    assert running_tasks("Supervisor") == []


async def test_start_raises_start_child_error_naming_the_child_whose_init_raised(
    events: Events,
) -> None:
    specs = [
        worker_spec("a", events, name="a"),
        worker_spec("b", events, name="b", init_fails=True),
        worker_spec("c", events, name="c"),
    ]
    with pytest.raises(StartChildError) as failure:
        await Supervisor.start(specs, name="sup")

    assert failure.value.child_id == "b"
    assert isinstance(failure.value.reason, Boom)
    assert str(failure.value.reason) == "init of 'b' failed"
    assert events == [("start", "a"), ("stop", "a")]
    assert [whereis(name) for name in ("a", "b", "c", "sup")] == [None] * 4
    assert running_tasks() == []


async def test_start_raises_start_child_error_when_a_start_returns_no_process(
    events: Events,
) -> None:
    async def returns_nothing() -> Any:
        return None

    specs = [worker_spec("a", events), ChildSpec("odd", returns_nothing)]
    with pytest.raises(StartChildError) as failure:
        await Supervisor.start(specs)

    assert failure.value.child_id == "odd"
    assert isinstance(failure.value.reason, ChildSpecError)
    assert str(failure.value.reason) == (
        "ChildSpec 'odd': start must return the started process, got: None"
    )
    assert events == [("start", "a"), ("stop", "a")]
    assert running_tasks() == []


# Spec and option validation


async def test_duplicate_child_ids_are_rejected_before_any_child_starts(events: Events) -> None:
    specs = [worker_spec("a", events), worker_spec("b", events), worker_spec("a", events)]
    with pytest.raises(ChildSpecError, match=r"^two children have the id 'a'; ids must be unique$"):
        await Supervisor.start(specs)
    assert events == []


async def _start_worker() -> GenServer:
    return await Worker.start()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"restart": "permanent"},
            "ChildSpec 'a': restart must be one of PERMANENT, TRANSIENT, TEMPORARY, "
            "got: 'permanent'",
        ),
        (
            {"shutdown": -1},
            "ChildSpec 'a': shutdown must be seconds >= 0 (0 kills at once) or None "
            "(wait forever), got: -1",
        ),
        (
            {"shutdown": True},
            "ChildSpec 'a': shutdown must be seconds >= 0 (0 kills at once) or None "
            "(wait forever), got: True",
        ),
        (
            {"shutdown": "5"},
            "ChildSpec 'a': shutdown must be seconds >= 0 (0 kills at once) or None "
            "(wait forever), got: '5'",
        ),
        (
            {"start": "Worker.start"},
            "ChildSpec 'a': start must be an async callable, got: 'Worker.start'",
        ),
        ({"type": "worker"}, "ChildSpec 'a': type must be WORKER or SUPERVISOR, got: 'worker'"),
        ({"id": ["a"]}, "ChildSpec id must be hashable, got: ['a']"),
    ],
)
async def test_child_spec_rejects_invalid_fields(fields: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"id": "a", "start": _start_worker, **fields}
    with pytest.raises(ChildSpecError, match=f"^{re.escape(message)}$"):
        ChildSpec(**arguments)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"child_restart": "permanent"}, "restart must be one of PERMANENT"),
        ({"child_shutdown": -1.0}, "shutdown must be seconds >= 0"),
        ({"child_shutdown": True}, "shutdown must be seconds >= 0"),
        ({"child_shutdown": "5"}, "shutdown must be seconds >= 0"),
        ({"child_type": "worker"}, "type must be WORKER or SUPERVISOR"),
    ],
)
async def test_a_class_child_spec_checks_the_class_defaults_as_child_spec_does(
    attributes: dict[str, Any], message: str
) -> None:
    cls: type[Worker] = type("Odd", (Worker,), attributes)
    with pytest.raises(ChildSpecError, match=message):
        cls.child_spec()


async def test_a_class_child_spec_checks_its_name_is_hashable() -> None:
    with pytest.raises(ChildSpecError, match=r"^ChildSpec id must be hashable, got: \['a'\]$"):
        Worker.child_spec(name=["a"])


async def test_a_class_child_spec_takes_every_valid_class_default() -> None:
    for shutdown in (0, 0.0, 2, 2.5, None):
        cls: type[Worker] = type(
            "Timed", (Worker,), {"child_shutdown": shutdown, "child_restart": TRANSIENT}
        )
        spec = cls.child_spec(name="x")
        assert (spec.id, spec.shutdown, spec.restart, spec.type) == (
            "x",
            shutdown,
            TRANSIENT,
            WORKER,
        )
        assert spec == ChildSpec("x", spec.start, TRANSIENT, shutdown, WORKER)


async def test_child_spec_accepts_the_boundary_values() -> None:
    for shutdown in (0, 0.0, 2, 2.5, None):
        assert ChildSpec("a", _start_worker, shutdown=shutdown).shutdown == shutdown


async def test_a_valid_child_spec_does_not_format_its_id() -> None:
    # A dynamic supervisor builds a spec per child: the id's repr is for error messages.
    class Id:
        reprs = 0

        def __repr__(self) -> str:
            Id.reprs += 1
            return "Id()"

    ChildSpec(Id(), _start_worker)
    assert Id.reprs == 0


async def test_supervisor_rejects_an_unknown_strategy(events: Events) -> None:
    message = "strategy must be one of ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE, got: 'one_for_one'"
    with pytest.raises(ChildSpecError, match=f"^{re.escape(message)}$"):
        await Supervisor.start([worker_spec("a", events)], strategy="one_for_one")
    assert events == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"max_restarts": -1}, "max_restarts must be an int >= 0, got: -1"),
        ({"max_restarts": True}, "max_restarts must be an int >= 0, got: True"),
        ({"max_restarts": 1.5}, "max_restarts must be an int >= 0, got: 1.5"),
        ({"max_restarts": "3"}, "max_restarts must be an int >= 0, got: '3'"),
        ({"max_seconds": 0}, "max_seconds must be a number > 0, got: 0"),
        ({"max_seconds": -5.0}, "max_seconds must be a number > 0, got: -5.0"),
        ({"max_seconds": True}, "max_seconds must be a number > 0, got: True"),
        ({"max_seconds": "5"}, "max_seconds must be a number > 0, got: '5'"),
    ],
)
async def test_supervisor_rejects_bad_restart_intensity(
    option: dict[str, Any], message: str, events: Events
) -> None:
    with pytest.raises(ChildSpecError, match=f"^{re.escape(message)}$"):
        await Supervisor.start([worker_spec("a", events)], **option)
    assert events == []


async def test_supervisor_rejects_children_that_are_not_child_specs(events: Events) -> None:
    with pytest.raises(ChildSpecError, match=r"^children must be ChildSpec objects, got: 'a'$"):
        await Supervisor.start([worker_spec("a", events), "a"])
    assert events == []


# The restart matrix: restart type x exit reason


async def make_exit(process: GenServer, kind: str) -> object:
    """Make `process` exit the way `kind` says; return the exit reason to expect."""
    if kind == "killed":
        assert process._otp_task is not None
        process._otp_task.cancel()
        await exited(process)
        return KILLED
    if kind == "crash":
        await crash(process)
        assert isinstance(process.exit_reason, Boom)
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
async def test_child_is_restarted_exactly_as_its_restart_type_says(
    supervise: StartSup, events: Events, restart: Any, kind: str, restarted: bool
) -> None:
    sup = await supervise([worker_spec("a", events, restart=restart)])
    old = await child(sup, "a")

    reason = await make_exit(old, kind)
    await settle(sup)

    assert old.exit_reason == reason
    children = await sup.which_children()
    if restarted:
        [info] = children
        assert info.process is not None
        assert info.process is not old
        assert info.process.alive
        assert await info.process.call("ping") == ("pong", "a")
        assert starts(events, "a") == 2
    elif restart is TEMPORARY:  # a temporary child's spec is forgotten when it exits
        assert children == []
        assert await sup.count_children() == ChildCounts(0, 0, 0, 0)
        assert starts(events, "a") == 1
    else:
        assert children == [ChildInfo("a", None, WORKER, TRANSIENT)]
        assert await sup.count_children() == ChildCounts(1, 0, 0, 1)
        assert starts(events, "a") == 1
    assert sup.alive


# Strategies


async def test_one_for_one_restarts_only_the_crashed_child(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "abc"], strategy=ONE_FOR_ONE)
    before = await processes(sup)
    del events[:]

    await crash(before["b"])  # type: ignore[arg-type]
    await settle(sup)

    after = await processes(sup)
    assert events == [("stop", "b"), ("start", "b")]
    assert after["a"] is before["a"]
    assert after["c"] is before["c"]
    assert after["b"] is not before["b"]
    assert all(p is not None and p.alive for p in after.values())


async def test_one_for_all_stops_the_others_in_reverse_order_then_starts_all_in_order(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "abc"], strategy=ONE_FOR_ALL)
    before = await processes(sup)
    del events[:]

    await crash(before["b"])  # type: ignore[arg-type]
    await settle(sup)

    after = await processes(sup)
    assert events == [
        ("stop", "b"),  # the crash itself
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
    ]
    for i in "abc":
        assert after[i] is not before[i]
        assert after[i] is not None
        assert after[i].alive
        assert not before[i].alive  # type: ignore[union-attr]
    assert before["a"].exit_reason == SHUTDOWN  # type: ignore[union-attr]


async def test_rest_for_one_restarts_the_crashed_child_and_the_ones_after_it(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "abcd"], strategy=REST_FOR_ONE)
    before = await processes(sup)
    del events[:]

    await crash(before["b"])  # type: ignore[arg-type]
    await settle(sup)

    after = await processes(sup)
    assert events == [
        ("stop", "b"),
        ("stop", "d"),
        ("stop", "c"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]
    assert after["a"] is before["a"]
    assert all(after[i] is not before[i] for i in "bcd")
    assert all(p is not None and p.alive for p in after.values())


@pytest.mark.parametrize("strategy", [ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE])
async def test_supervisor_gives_up_on_the_restart_past_max_restarts(
    supervise: StartSup, events: Events, strategy: Strategy, caplog: pytest.LogCaptureFixture
) -> None:
    sup = await supervise(
        [worker_spec(i, events) for i in "abc"],
        strategy=strategy,
        max_restarts=3,
        max_seconds=5.0,
    )
    for _ in range(3):  # three restarts within the window are allowed
        await crash(await child(sup, "b"))
        await settle(sup)
        assert sup.alive
        assert await sup.count_children() == ChildCounts(3, 3, 0, 3)
    assert not gave_up(caplog)
    survivors = await processes(sup)
    del events[:]

    await crash(await child(sup, "b"))  # the fourth is one too many
    await exited(sup)

    assert sup.exit_reason == MAX_RESTARTS_REACHED
    assert events == [("stop", "b"), ("stop", "c"), ("stop", "a")]
    assert not any(p is not None and p.alive for p in survivors.values())
    assert running_tasks() == []
    [record] = gave_up(caplog)
    assert record.levelno == logging.ERROR
    with pytest.raises(NoProcess):
        await sup.which_children()


async def test_max_restarts_zero_gives_up_on_the_first_exit(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events)], max_restarts=0)
    await crash(await child(sup, "a"))
    await exited(sup)
    assert sup.exit_reason == MAX_RESTARTS_REACHED
    assert starts(events, "a") == 1


@pytest.mark.parametrize(
    ("gap", "survives"),
    [(6.0, True), (5.5, True), (4.0, False), (0.0, False)],
)
async def test_restart_intensity_counts_only_restarts_within_the_sliding_window(
    supervise: StartSup, events: Events, gap: float, survives: bool
) -> None:
    sup = await supervise([worker_spec("a", events)], max_restarts=1, max_seconds=5.0)
    started = now()
    crashes = 0
    while crashes < 3:
        await crash(await child(sup, "a"))
        crashes += 1
        try:
            await settle(sup)
        except NoProcess:  # it gave up
            break
        await asyncio.sleep(gap)

    if survives:  # restarts `gap` >= max_seconds apart never share a window
        assert sup.alive
        assert starts(events, "a") == 4
        assert now() - started == pytest.approx(3 * gap)
    else:  # the second restart inside 5 s is one too many for max_restarts=1
        await exited(sup)
        assert sup.exit_reason == MAX_RESTARTS_REACHED
        assert crashes == 2
        assert starts(events, "a") == 2


async def test_nested_supervisor_that_gives_up_is_restarted_by_its_parent(
    supervise: StartSup, events: Events
) -> None:
    inner_spec = Supervisor.child_spec(
        [worker_spec(i, events) for i in "xy"], name="inner", max_restarts=1
    )
    parent = await supervise([worker_spec("a", events), inner_spec, worker_spec("b", events)])
    before = await processes(parent)
    inner = before["inner"]
    assert isinstance(inner, Supervisor)

    await crash(await child(inner, "x"))
    await settle(inner)
    await crash(await child(inner, "x"))  # one too many for the inner supervisor
    await exited(inner)
    await settle(parent)

    assert inner.exit_reason == MAX_RESTARTS_REACHED
    after = await processes(parent)
    new_inner = after["inner"]
    assert isinstance(new_inner, Supervisor)
    assert new_inner is not inner
    assert new_inner.alive
    assert whereis("inner") is new_inner
    assert after["a"] is before["a"]
    assert after["b"] is before["b"]
    assert all(p is not None and p.alive for p in (await processes(new_inner)).values())
    assert starts(events, "x") == 3
    assert starts(events, "y") == 2
    # The new inner supervisor counts its own restarts from zero.
    await crash(await child(new_inner, "x"))
    await settle(new_inner)
    assert new_inner.alive


async def test_transient_nested_supervisor_that_gives_up_is_not_restarted(
    supervise: StartSup, events: Events
) -> None:
    # Giving up is an orderly exit (Shutdown(...)), as in OTP: a transient parent keeps it down.
    inner_spec = Supervisor.child_spec([worker_spec("x", events)], name="inner", max_restarts=0)
    inner_spec = dataclasses.replace(inner_spec, restart=TRANSIENT)
    parent = await supervise([inner_spec, worker_spec("a", events)])
    inner = await child(parent, "inner")
    assert isinstance(inner, Supervisor)

    await crash(await child(inner, "x"))
    await exited(inner)
    await settle(parent)

    assert await parent.which_children() == [
        ChildInfo("inner", None, SUPERVISOR, TRANSIENT),
        ChildInfo("a", (await processes(parent))["a"], WORKER, PERMANENT),
    ]
    assert parent.alive


async def test_escalation_reaches_the_root_supervisor(supervise: StartSup, events: Events) -> None:
    inner_spec = Supervisor.child_spec([worker_spec("x", events)], name="inner", max_restarts=0)
    root = await supervise([worker_spec("a", events), inner_spec], max_restarts=0)
    a = await child(root, "a")
    inner = await child(root, "inner")

    await crash(await child(inner, "x"))
    await exited(inner)
    await exited(root)

    assert inner.exit_reason == MAX_RESTARTS_REACHED
    assert root.exit_reason == MAX_RESTARTS_REACHED
    assert a.exit_reason == SHUTDOWN
    assert events == [("start", "a"), ("start", "x"), ("stop", "x"), ("stop", "a")]
    assert whereis("inner") is None


GROUP_RETRY_EVENTS = {
    ONE_FOR_ALL: [
        ("stop", "b"),
        ("stop", "d"),
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        # c's start fails: the retry restarts the whole group again
        ("stop", "b"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ],
    REST_FOR_ONE: [
        ("stop", "b"),
        ("stop", "d"),
        ("stop", "c"),
        ("start", "b"),
        # c's start fails: the retry restarts from c on
        ("start", "c"),
        ("start", "d"),
    ],
}


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE])
async def test_group_restart_retries_a_sibling_whose_start_fails_once(
    supervise: StartSup, events: Events, strategy: Strategy, caplog: pytest.LogCaptureFixture
) -> None:
    c_attempts = Attempts(lambda n: n == 2)
    specs = [worker_spec(i, events) for i in "ab"]
    specs += [worker_spec("c", events, attempts=c_attempts), worker_spec("d", events)]
    sup = await supervise(specs, strategy=strategy, max_restarts=2)
    before = await processes(sup)
    del events[:]

    await crash(before["b"])  # type: ignore[arg-type]
    await settle(sup)

    assert sup.alive
    assert events == GROUP_RETRY_EVENTS[strategy]
    assert c_attempts.count == 3
    after = await processes(sup)
    assert all(p is not None and p.alive for p in after.values())
    assert (after["a"] is before["a"]) is (strategy is REST_FOR_ONE)
    assert any("restarting child 'c' failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE])
async def test_a_failed_group_restart_counts_toward_intensity(
    supervise: StartSup, events: Events, strategy: Strategy
) -> None:
    # One crash plus one retry are two restarts: one too many for max_restarts=1.
    specs = [worker_spec(i, events) for i in "ab"]
    specs += [worker_spec("c", events, attempts=Attempts(lambda n: n == 2))]
    sup = await supervise(specs, strategy=strategy, max_restarts=1)

    await crash(await child(sup, "b"))
    await exited(sup)

    assert sup.exit_reason == MAX_RESTARTS_REACHED
    assert running_tasks() == []


@pytest.mark.parametrize(
    ("strategy", "crashed"), [(ONE_FOR_ONE, "c"), (ONE_FOR_ALL, "b"), (REST_FOR_ONE, "b")]
)
async def test_supervisor_gives_up_within_intensity_when_a_child_never_starts_again(
    supervise: StartSup, events: Events, strategy: Strategy, crashed: str
) -> None:
    c_attempts = Attempts(lambda n: n > 1)
    specs = [worker_spec(i, events) for i in "ab"]
    specs += [worker_spec("c", events, attempts=c_attempts), worker_spec("d", events)]
    sup = await supervise(specs, strategy=strategy, max_restarts=3)

    await crash(await child(sup, crashed))
    await exited(sup)

    # The first start plus one attempt for each of the 3 allowed restarts; the 4th gives up.
    assert c_attempts.count == 4
    assert sup.exit_reason == MAX_RESTARTS_REACHED
    assert running_tasks() == []


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE])
async def test_temporary_child_stopped_by_a_group_restart_is_not_restarted_nor_counted(
    supervise: StartSup, events: Events, strategy: Strategy
) -> None:
    specs = [
        worker_spec("a", events),
        worker_spec("t", events, restart=TEMPORARY),
        worker_spec("c", events),
    ]
    sup = await supervise(specs, strategy=strategy, max_restarts=1)
    temporary = await child(sup, "t")

    await crash(await child(sup, "a"))
    await settle(sup)

    assert sup.alive  # one restart, not two: the temporary child is not counted
    assert temporary.exit_reason == SHUTDOWN
    assert starts(events, "t") == 1
    assert [info.id for info in await sup.which_children()] == ["a", "c"]
    assert all(p is not None and p.alive for p in (await processes(sup)).values())


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE])
async def test_group_restart_starts_a_child_stopped_by_terminate_child_as_otp_does(
    supervise: StartSup, events: Events, strategy: Strategy
) -> None:
    # OTP's supervisor restarts every non-temporary child of the group, running or not:
    # terminate_child keeps the spec, and "the child can later be restarted by the supervisor".
    sup = await supervise([worker_spec(i, events) for i in "abcd"], strategy=strategy)
    await sup.terminate_child("a")  # before the crashed child: in the ONE_FOR_ALL group only
    await sup.terminate_child("d")  # after it: in both groups
    del events[:]

    await crash(await child(sup, "b"))
    await settle(sup)

    after = await processes(sup)
    assert after["d"] is not None
    assert after["d"].alive
    assert (after["a"] is not None) is (strategy is ONE_FOR_ALL)
    restarted = "abcd" if strategy is ONE_FOR_ALL else "bcd"
    assert [e for e in events if e[0] == "start"] == [("start", i) for i in restarted]


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE])
async def test_group_restart_starts_a_transient_child_that_had_exited_normally(
    supervise: StartSup, events: Events, strategy: Strategy
) -> None:
    specs = [worker_spec("a", events), worker_spec("b", events)]
    specs += [worker_spec("t", events, restart=TRANSIENT)]
    sup = await supervise(specs, strategy=strategy)
    await crash(await child(sup, "t"), ("stop", NORMAL))
    await settle(sup)
    assert (await processes(sup))["t"] is None  # its own normal exit does not restart it

    await crash(await child(sup, "b"))
    await settle(sup)

    assert starts(events, "t") == 2
    assert all(p is not None and p.alive for p in (await processes(sup)).values())


async def test_exits_already_queued_during_a_group_restart_do_not_restart_twice(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "abc"], strategy=ONE_FOR_ALL)
    a, c = await child(sup, "a"), await child(sup, "c")
    c.cast("crash")
    await crash(a)  # both exits are queued before the supervisor handles either
    await settle(sup)

    assert sup.alive
    assert [starts(events, i) for i in "abc"] == [2, 2, 2]
    assert all(p is not None and p.alive for p in (await processes(sup)).values())


# Shutdown


async def test_child_overrunning_its_shutdown_budget_is_cancelled_after_the_budget(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise(
        [worker_spec("a", events), worker_spec("b", events, shutdown=2.0, terminate_delay=60.0)]
    )
    b = await child(sup, "b")
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(2.0, abs=0.01)
    assert b.terminated_with == SHUTDOWN  # type: ignore[attr-defined]
    assert not b.alive
    assert events[2:] == [("stop", "a")]  # b's terminate never finished; a was still stopped


async def test_child_finishing_terminate_within_its_budget_is_not_cancelled(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events, shutdown=5.0, terminate_delay=1.0)])
    a = await child(sup, "a")
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(1.0, abs=0.01)
    assert events[-1] == ("stop", "a")
    assert a.exit_reason == SHUTDOWN


async def test_brutal_kill_cancels_the_child_at_once(supervise: StartSup, events: Events) -> None:
    sup = await supervise([worker_spec("a", events, shutdown=0)])
    a = await child(sup, "a")
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(0.0, abs=0.001)
    assert a.terminated_with == KILLED  # type: ignore[attr-defined]
    assert a.exit_reason == KILLED


async def test_brutal_kill_does_not_wait_for_a_slow_terminate(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events, shutdown=0, terminate_delay=60.0)])
    a = await child(sup, "a")
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(0.0, abs=0.001)
    assert a.terminated_with == KILLED  # type: ignore[attr-defined]  # terminate ran, cut short
    assert a.exit_reason == KILLED
    assert ("stop", "a") not in events


async def test_shutdown_none_waits_as_long_as_terminate_takes(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events, shutdown=None, terminate_delay=300.0)])
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(300.0, abs=0.01)
    assert events[-1] == ("stop", "a")


@pytest.mark.parametrize("how", ["crash", ("stop", NORMAL)])
async def test_child_exiting_on_its_own_during_shutdown_does_not_break_it(
    supervise: StartSup, events: Events, how: object
) -> None:
    sup = await supervise(
        [
            worker_spec("a", events, exit_after=(0.5, how)),
            worker_spec("b", events, terminate_delay=1.0),
        ]
    )
    a = await child(sup, "a")
    started = now()

    await sup.stop()  # b takes 1 s to stop; a exits by itself at 0.5 s meanwhile

    assert now() - started == pytest.approx(1.0, abs=0.01)
    assert sup.exit_reason == NORMAL
    assert not a.alive
    assert starts(events, "a") == 1  # not restarted while shutting down
    assert events[2:] == [("stop", "a"), ("stop", "b")]
    assert running_tasks() == []


async def test_child_busy_in_a_handler_is_stopped_within_its_shutdown_budget(
    supervise: StartSup, events: Events
) -> None:
    # The budget covers the handler it is busy in and its terminate: no second wait.
    sup = await supervise([worker_spec("a", events, shutdown=2.0, terminate_delay=60.0)])
    a = await child(sup, "a")
    busy = asyncio.create_task(a.call(("sleep", 100.0), timeout=None))
    await asyncio.sleep(0.1)
    started = now()

    await sup.stop()

    assert now() - started == pytest.approx(2.0, abs=0.01)
    assert a.terminated_with == KILLED  # type: ignore[attr-defined]
    assert a.exit_reason == KILLED
    with pytest.raises(NoProcess):
        await busy


async def test_child_cancelled_after_its_shutdown_budget_exits_with_reason_killed(
    supervise: StartSup, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    sup = await supervise([worker_spec("a", events, shutdown=1.0, terminate_delay=60.0)])
    a = await child(sup, "a")

    await sup.stop()

    assert a.terminated_with == SHUTDOWN  # type: ignore[attr-defined]  # asked first
    assert a.exit_reason == KILLED  # then killed
    # the overrun is said once, with the child's name and budget; no error: it was killed
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelno, r.getMessage()) for r in warnings] == [
        (logging.WARNING, "child 'a' overran its shutdown budget of 1.0s; killing it")
    ]


async def test_a_supervisor_killed_while_stopping_a_child_kills_that_child_too(
    supervise: StartSup, events: Events
) -> None:
    specs = [worker_spec(i, events, shutdown=None, terminate_delay=60.0) for i in "ab"]
    sup = await supervise(specs)
    a, b = await child(sup, "a"), await child(sup, "b")
    stopping = asyncio.ensure_future(sup.stop())
    for _ in range(100):  # until b is in its terminate (a few loop turns)
        if b.terminated_with:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0)
    assert b.terminated_with == SHUTDOWN  # type: ignore[attr-defined]
    sup._otp_kill()  # as a second Ctrl-C does
    with contextlib.suppress(BaseException):
        await stopping
    await sup._otp_wait_exit(None)
    assert (a.alive, b.alive) == (False, False)
    assert (a.exit_reason, b.exit_reason) == (KILLED, KILLED)  # none left to asyncio.run


# The child API


async def test_start_child_appends_a_running_child(supervise: StartSup, events: Events) -> None:
    sup = await supervise([worker_spec("a", events)])
    b = await sup.start_child(worker_spec("b", events))

    assert b.alive
    assert await b.call("ping") == ("pong", "b")
    assert [(info.id, info.process) for info in await sup.which_children()] == [
        ("a", await child(sup, "a")),
        ("b", b),
    ]
    await crash(b)  # and it is supervised like the others
    await settle(sup)
    assert (await child(sup, "b")) is not b
    await sup.stop()
    assert events[-3:] == [("start", "b"), ("stop", "b"), ("stop", "a")]


async def test_start_child_with_the_id_of_a_running_child_raises_already_started(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events)])
    a = await child(sup, "a")

    with pytest.raises(AlreadyStarted) as failure:
        await sup.start_child(worker_spec("a", events))

    assert failure.value.process is a
    assert starts(events, "a") == 1
    assert await sup.count_children() == ChildCounts(1, 1, 0, 1)


async def test_terminate_child_stops_it_and_keeps_its_spec(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "ab"], max_restarts=0)
    a = await child(sup, "a")

    await sup.terminate_child("a")
    await settle(sup)

    assert a.terminated_with == SHUTDOWN  # type: ignore[attr-defined]
    assert not a.alive
    assert sup.alive  # not restarted, and not counted as a restart
    assert (await sup.which_children())[0] == ChildInfo("a", None, WORKER, PERMANENT)
    assert await sup.count_children() == ChildCounts(2, 1, 0, 2)
    await sup.terminate_child("a")  # terminating a stopped child does nothing


async def test_terminate_child_cancels_a_pending_restart_retry(
    supervise: StartSup, events: Events
) -> None:
    attempts = Attempts(lambda n: n == 2)  # the first restart fails and is to be retried
    sup = await supervise([worker_spec("a", events, attempts=attempts)])

    await crash(await child(sup, "a"))
    await sup.terminate_child("a")  # queued behind the exit, ahead of the retry
    await settle(sup)

    assert attempts.count == 2
    assert await sup.which_children() == [ChildInfo("a", None, WORKER, PERMANENT)]
    assert (await sup.restart_child("a")).alive


@pytest.mark.parametrize("operation", ["restart_child", "delete_child"])
async def test_restart_child_and_delete_child_of_a_restarting_child_raise_child_restarting(
    supervise: StartSup, events: Events, operation: str
) -> None:
    # OTP answers {error, restarting}: neither starts it beside the retry nor drops its spec.
    attempts = Attempts(lambda n: n == 2)  # the first restart fails and is to be retried
    sup = await supervise([worker_spec("a", events, attempts=attempts)])

    await crash(await child(sup, "a"))
    with pytest.raises(ChildRestarting, match="child 'a' is restarting"):
        await getattr(sup, operation)("a")  # queued behind the exit, ahead of the retry
    await settle(sup)

    assert attempts.count == 3  # the retry went on, and started it
    assert (await child(sup, "a")).alive
    assert starts(events, "a") == 2


async def test_start_child_with_the_id_of_a_stopped_child_raises_already_present(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events)])
    await sup.terminate_child("a")
    with pytest.raises(AlreadyPresent, match="already has a stopped child 'a'"):
        await sup.start_child(worker_spec("a", events))
    assert starts(events, "a") == 1


async def test_restart_child_starts_a_stopped_child_from_its_spec(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "ab"])
    old = await child(sup, "a")
    await sup.terminate_child("a")

    new = await sup.restart_child("a")

    assert new is not old
    assert new.alive
    assert await child(sup, "a") is new
    assert [info.id for info in await sup.which_children()] == ["a", "b"]  # keeps its place
    with pytest.raises(ChildRunning, match="child 'a' is running; terminate it first"):
        await sup.restart_child("a")


async def test_restart_child_that_fails_raises_start_child_error_and_keeps_the_spec(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events, attempts=Attempts(lambda n: n == 2))])
    await sup.terminate_child("a")

    with pytest.raises(StartChildError) as failure:
        await sup.restart_child("a")

    assert failure.value.child_id == "a"
    assert await sup.which_children() == [ChildInfo("a", None, WORKER, PERMANENT)]
    assert (await sup.restart_child("a")).alive


async def test_delete_child_forgets_a_stopped_child_but_not_a_running_one(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec(i, events) for i in "ab"])
    with pytest.raises(ChildRunning, match="child 'a' is running; terminate it first"):
        await sup.delete_child("a")

    await sup.terminate_child("a")
    await sup.delete_child("a")

    assert [info.id for info in await sup.which_children()] == ["b"]
    b = await sup.start_child(worker_spec("a", events))  # the id is free again
    assert b.alive


@pytest.mark.parametrize("operation", ["terminate_child", "restart_child", "delete_child"])
async def test_unknown_child_id_raises_child_not_found(
    supervise: StartSup, events: Events, operation: str
) -> None:
    sup = await supervise([worker_spec("a", events)])
    with pytest.raises(ChildNotFound, match="has no child 'nope'"):
        await getattr(sup, operation)("nope")
    assert sup.alive


@pytest.mark.parametrize("failure_kind", ["start", "init", "no process"])
async def test_start_child_that_fails_raises_start_child_error_and_keeps_no_spec(
    supervise: StartSup, events: Events, failure_kind: str
) -> None:
    sup = await supervise([worker_spec("a", events)])
    if failure_kind == "start":
        spec = worker_spec("b", events, attempts=Attempts(lambda n: True))
    elif failure_kind == "init":
        spec = worker_spec("b", events, init_fails=True, name="b")
    else:

        async def returns_nothing() -> Any:
            return "not a process"

        spec = ChildSpec("b", returns_nothing)

    with pytest.raises(StartChildError) as failure:
        await sup.start_child(spec)

    assert failure.value.child_id == "b"
    expected = ChildSpecError if failure_kind == "no process" else Boom
    assert isinstance(failure.value.reason, expected)
    assert [info.id for info in await sup.which_children()] == ["a"]
    assert whereis("b") is None
    assert (await sup.start_child(worker_spec("b", events))).alive  # nothing was kept


async def test_start_child_rejects_what_is_not_a_child_spec(supervise: StartSup) -> None:
    sup = await supervise([])
    with pytest.raises(ChildSpecError, match="start_child needs a ChildSpec, got: 'a'"):
        await sup.start_child("a")  # type: ignore[arg-type]


async def test_terminate_child_forgets_a_temporary_child(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("t", events, restart=TEMPORARY)])
    await sup.terminate_child("t")
    assert await sup.which_children() == []
    with pytest.raises(ChildNotFound):
        await sup.restart_child("t")


async def test_which_children_and_count_children_describe_every_child(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise(
        [
            worker_spec("a", events),
            Supervisor.child_spec([worker_spec("x", events)], name="inner"),
            worker_spec("t", events, restart=TRANSIENT),
            worker_spec("tmp", events, restart=TEMPORARY),
        ]
    )
    await sup.terminate_child("t")

    assert await sup.which_children() == [
        ChildInfo("a", await child(sup, "a"), WORKER, PERMANENT),
        ChildInfo("inner", whereis("inner"), SUPERVISOR, PERMANENT),
        ChildInfo("t", None, WORKER, TRANSIENT),
        ChildInfo("tmp", await child(sup, "tmp"), WORKER, TEMPORARY),
    ]
    assert await sup.count_children() == ChildCounts(specs=4, active=3, supervisors=1, workers=3)


async def test_child_cancelled_from_outside_is_restarted(
    supervise: StartSup, events: Events
) -> None:
    sup = await supervise([worker_spec("a", events, name="a")])
    old = await child(sup, "a")
    assert old._otp_task is not None
    old._otp_task.cancel()
    await exited(old)
    await settle(sup)
    assert whereis("a") is (await child(sup, "a")) is not old
    assert old.terminated_with == KILLED  # type: ignore[attr-defined]


async def test_child_cancelled_while_it_is_being_restarted_does_not_kill_the_supervisor(
    supervise: StartSup, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    # A child killed during its init is a failed start: retried, not fatal to the supervisor.
    attempts = Attempts()

    async def start() -> GenServer:
        attempts.count += 1
        delay = 0.0 if attempts.count == 1 else 10.0
        return await Worker.start("a", events, name="a", init_delay=delay)

    sup = await supervise([ChildSpec("a", start)])
    await crash(await child(sup, "a"))
    await asyncio.sleep(1.0)  # the restart now waits in the new child's init
    restarting = whereis("a")
    assert restarting is not None
    assert restarting._otp_task is not None
    restarting._otp_task.cancel()
    await settle(sup)

    assert sup.alive
    assert (await child(sup, "a")).alive
    assert attempts.count == 3
    assert restarting.exit_reason == KILLED
    assert any("restarting child 'a' failed" in r.getMessage() for r in caplog.records)


# Crash reports


@pytest.mark.parametrize("via", ["call", "cast", "info"])
async def test_crash_report_names_the_process_the_reason_and_the_last_message(
    supervise: StartSup, events: Events, caplog: pytest.LogCaptureFixture, via: str
) -> None:
    sup = await supervise([worker_spec("a", events, name="reporter")])
    a = await child(sup, "a")
    caplog.clear()

    if via == "call":
        await crash(a)
    else:
        (a.cast if via == "cast" else a.send)("crash")
        await exited(a)
    await settle(sup)

    reason = a.exit_reason
    assert isinstance(reason, Boom)
    [report] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert report.name == "otp"
    assert report.args is not None
    assert report.args[0] is a
    assert report.args[1] is reason
    message = report.getMessage()
    assert "'reporter'" in message  # the process, by its name
    assert f"{id(a):#x}" in message  # and its id
    assert repr(reason) in message
    assert message.endswith(f"last message: {via} 'crash'")
    assert report.exc_info is not None
    assert report.exc_info[1] is reason
    [restarting] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"child 'a' exited with {reason!r}; restarting" in restarting.getMessage()


@pytest.mark.parametrize("reason", [NORMAL, SHUTDOWN, Shutdown("bye")])
async def test_orderly_exit_is_not_reported_as_a_crash(
    supervise: StartSup, events: Events, caplog: pytest.LogCaptureFixture, reason: object
) -> None:
    sup = await supervise([worker_spec("a", events)])
    await crash(await child(sup, "a"), ("stop", reason))
    await settle(sup)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_supervisor_subclass_may_use_the_private_names_any_class_would() -> None:
    class Own(Supervisor):
        async def init(self, *args: Any, **kwargs: Any) -> None:
            self._children = ["not", "the", "kernel's"]
            self._strategy = "mine"
            await super().init(*args, **kwargs)

        def _start(self) -> None:
            raise AssertionError("the kernel called the subclass's _start")

        def _restart(self) -> None:
            raise AssertionError("the kernel called the subclass's _restart")

    sup = await Own.start([worker_spec("a")], strategy=ONE_FOR_ONE)
    try:
        first = await child(sup, "a")
        await crash(first)
        await settle(sup)
        assert (await child(sup, "a")) is not first
    finally:
        await sup.stop()
