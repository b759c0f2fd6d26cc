"""Wrong argument types: each is refused with a TypeError naming the argument and what it
accepts, at the call that got it, never an AttributeError from deep inside the kernel.

Runs on looptime's fake clock; a test that hangs fails (idle_timeout).
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import otp
import pytest
from otp import (
    DUPLICATE,
    Agent,
    ChildSpec,
    ChildSpecError,
    DynamicSupervisor,
    GenServer,
    Registry,
    Supervisor,
    TaskSupervisor,
    via,
    whereis,
)

pytestmark = pytest.mark.looptime(idle_timeout=2)


class Idle(GenServer):
    async def init(self) -> None:
        return None


async def nap(value: object = None) -> object:
    await asyncio.sleep(0)
    return value


async def outcome(call: Callable[[], object]) -> object:
    """What `call()` returns, awaited if it is awaitable."""
    result = call()
    return await result if isinstance(result, Awaitable) else result


def spec(**fields: Any) -> ChildSpec:
    return ChildSpec(**{"id": "a", "start": Idle.start, **fields})


# (what is called, the message it must raise with)
WRONG_TYPES: dict[str, tuple[Callable[[], Awaitable[object] | object], str]] = {
    "start name=42": (
        lambda: Idle.start(name=42),
        r"Idle.start\(\): name must be a str or via\(registry, key\) with a UNIQUE Registry, "
        r"got: 42",
    ),
    "start name=a plain tuple": (
        lambda: Idle.start(name=(Registry(), "key")),
        r"name must be a str or via\(registry, key\)",
    ),
    "start name=via of no Registry": (
        lambda: Idle.start(name=via("registry", "key")),  # type: ignore[arg-type]
        r"name must be a str or via\(registry, key\) with a UNIQUE Registry, "
        r"got: via\('registry', 'key'\)",
    ),
    "start name=via of a DUPLICATE Registry": (
        lambda: Idle.start(name=via(Registry(DUPLICATE), "key")),
        r"with a UNIQUE Registry, got: via\(",
    ),
    "Agent.start 42": (
        lambda: Agent.start(42),  # type: ignore[arg-type]
        r"Agent.start\(\) needs a function returning the state, got: 42",
    ),
    "whereis 42": (lambda: whereis(42), r"name must be a str or via\(registry, key\), got: 42"),  # type: ignore[arg-type]
    "Cls.whereis None": (
        lambda: Idle.whereis(None),  # type: ignore[arg-type]
        r"name must be a str or via\(registry, key\), got: None",
    ),
    "Registry.register": (
        lambda: Registry().register("k", "process"),  # type: ignore[arg-type]
        r"Registry.register\(\) needs a process \(a GenServer\), got: 'process'",
    ),
    "Registry.unregister": (
        lambda: Registry().unregister("k", "process"),  # type: ignore[arg-type]
        r"Registry.unregister\(\) needs a process",
    ),
    "Registry.keys_of": (
        lambda: Registry().keys_of("process"),  # type: ignore[arg-type]
        r"Registry.keys_of\(\) needs a process",
    ),
    "ChildSpec restart": (
        lambda: spec(restart="permanent"),
        "restart must be one of PERMANENT, TRANSIENT, TEMPORARY, got: 'permanent'",
    ),
    "ChildSpec shutdown": (lambda: spec(shutdown="5"), "shutdown must be seconds >= 0"),
    "ChildSpec shutdown NaN": (lambda: spec(shutdown=math.nan), "shutdown must be seconds >= 0"),
    "ChildSpec type": (lambda: spec(type="worker"), "type must be WORKER or SUPERVISOR"),
    "ChildSpec start": (lambda: spec(start="Idle"), "start must be an async callable"),
    "Supervisor children": (
        lambda: Supervisor.start(None),
        "children must be an iterable of ChildSpec, got: None",
    ),
    "Supervisor strategy": (
        lambda: Supervisor.start([], strategy="one_for_all"),
        "strategy must be one of ONE_FOR_ONE, ONE_FOR_ALL, REST_FOR_ONE",
    ),
    "Supervisor max_restarts": (
        lambda: Supervisor.start([], max_restarts="3"),
        "max_restarts must be an int >= 0",
    ),
    "Supervisor max_seconds": (
        lambda: Supervisor.start([], max_seconds="5"),
        "max_seconds must be a number > 0",
    ),
    "DynamicSupervisor max_children": (
        lambda: DynamicSupervisor.start(max_children="10"),
        "max_children must be an int >= 1 or None",
    ),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
async def test_a_wrong_argument_type_raises_a_type_error_naming_it(case: str) -> None:
    call, message = WRONG_TYPES[case]
    with pytest.raises(TypeError, match=message):
        await outcome(call)


async def test_wrong_arguments_to_a_process_raise_errors_naming_them_and_change_nothing() -> None:
    process = await Idle.start()
    wrong: list[tuple[Callable[[], object], type[Exception], str]] = [
        (lambda: process.monitor(42), TypeError, r"monitor\(\) needs a process or an asyncio task"),  # type: ignore[arg-type]
        (
            lambda: process.demonitor(42),
            TypeError,
            r"demonitor\(\) needs what monitor\(\) returned",
        ),  # type: ignore[arg-type]
        (lambda: process.send_after("m", "1"), TypeError, "send_after delay must be seconds"),  # type: ignore[arg-type]
        (lambda: process.send_after("m", None), TypeError, "send_after delay must be seconds"),  # type: ignore[arg-type]
        (lambda: process.send_after("m", math.nan), ValueError, "send_after delay must be seconds"),
        (lambda: process.call("x", "5"), TypeError, "call timeout must be seconds"),  # type: ignore[arg-type]
        (lambda: process.call("x", math.nan), ValueError, "call timeout must be seconds"),
        (lambda: process.stop(timeout="1"), TypeError, "stop timeout must be seconds"),  # type: ignore[arg-type]
        (lambda: process.stop(timeout=math.nan), ValueError, "stop timeout must be seconds"),
        (lambda: process.wait_exit("1"), TypeError, "wait_exit timeout must be seconds"),  # type: ignore[arg-type]
    ]
    for call, error, message in wrong:
        with pytest.raises(error, match=message):
            await outcome(call)
        assert process.alive  # (a stop with a bad timeout used to stop it, then raise)
    assert process._otp_inbox is None  # no call was queued
    await process.stop()


async def test_spec_errors_stay_child_spec_errors_and_value_errors() -> None:
    with pytest.raises(ChildSpecError) as failure:
        spec(restart="permanent")
    assert isinstance(failure.value, ValueError)
    assert isinstance(failure.value, TypeError)


TASK_WRONG_TYPES: dict[str, tuple[Callable[[TaskSupervisor], object], str]] = {
    "start_child fn": (
        lambda sup: sup.start_child(None),  # type: ignore[arg-type]
        "fn must be a callable returning an awaitable, got: None",
    ),
    "async_nolink fn": (
        lambda sup: sup.async_nolink("nap"),  # type: ignore[arg-type]
        "fn must be a callable returning an awaitable, got: 'nap'",
    ),
    "async_stream fn": (
        lambda sup: sup.async_stream([1], None),  # type: ignore[arg-type]
        "fn must be a callable returning an awaitable, got: None",
    ),
    "async_stream timeout": (
        lambda sup: sup.async_stream([1], nap, timeout="5"),  # type: ignore[arg-type]
        r"timeout must be seconds \(an int or float\) or None, got: '5'",
    ),
    "async_stream max_concurrency": (
        lambda sup: sup.async_stream([1], nap, max_concurrency="2"),  # type: ignore[arg-type]
        "max_concurrency must be an int >= 1, got: '2'",
    ),
    "yield_ timeout": (
        lambda sup: sup.async_nolink(nap).yield_(timeout="5"),  # type: ignore[arg-type]
        r"timeout must be seconds \(an int or float\) or None, got: '5'",
    ),
    "shutdown timeout": (
        lambda sup: sup.async_nolink(nap).shutdown(timeout="5"),  # type: ignore[arg-type]
        r"timeout must be seconds \(an int or float\) or None, got: '5'",
    ),
}


@pytest.mark.parametrize("case", list(TASK_WRONG_TYPES))
async def test_a_wrong_argument_type_to_a_task_supervisor_raises_a_type_error_naming_it(
    case: str,
) -> None:
    call, message = TASK_WRONG_TYPES[case]
    sup = await TaskSupervisor.start()
    try:
        with pytest.raises(TypeError, match=message):
            await outcome(lambda: call(sup))
    finally:
        await sup.stop()


# The vendored kernel passes any ruff configuration a user may run over it


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(["--isolated"], id="ruff's default rules, no configuration"),
        pytest.param(
            ["--isolated", "--select", "E,F,W,I,B,UP,SIM,RUF,ASYNC,PT,C4,RET", "--line-length=100"],
            id="the generated service's rules",
        ),
    ],
)
def test_the_kernel_passes_ruff_with_no_noqa_either_config_finds_unused(config: list[str]) -> None:
    # A noqa comment that one rule set needs is an unused one (RUF100) in another: the kernel
    # needs none, but for the ones every rule set enables.
    pytest.importorskip("ruff")
    kernel = Path(otp.__file__).parent
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--target-version=py311", *config, "."],
        cwd=kernel,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
