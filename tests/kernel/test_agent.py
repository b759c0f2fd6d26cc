"""Agent conformance: get, update, get_and_update and cast, serialised inside the agent.

Modelled on Elixir's Agent tests.
"""

from __future__ import annotations

import asyncio

import pytest
from otp import Agent, AlreadyStarted, GenServer, NoProcess, whereis

# Every test runs on looptime's fake clock: sleeps and timeouts take no real time and
# loop.time() is exact. A test that hangs fails instead: all its tasks are failed when the
# loop sits idle (nothing ready, nothing scheduled) for 2 real seconds.
pytestmark = pytest.mark.looptime(idle_timeout=2)


class Boom(Exception):
    """The failure the tests provoke."""


async def test_an_agent_is_a_process_whose_value_comes_from_initial() -> None:
    agent: Agent[list[int]] = await Agent.start(lambda: [1, 2])
    assert isinstance(agent, GenServer)
    assert agent.alive
    assert await agent.get(lambda v: v) == [1, 2]
    await agent.stop()


async def test_get_returns_fn_of_the_value_computed_inside_the_agent() -> None:
    agent: Agent[int] = await Agent.start(lambda: 7)
    inside: list[asyncio.Task[object] | None] = []

    def read(value: int) -> int:
        inside.append(asyncio.current_task())
        return value * 6

    assert await agent.get(read) == 42
    assert inside == [agent._otp_task]  # run by the agent's own task, not the caller's
    await agent.stop()


async def test_update_replaces_the_value_and_returns_none() -> None:
    agent: Agent[int] = await Agent.start(lambda: 1)
    assert await agent.update(lambda v: v + 10) is None
    assert await agent.get(lambda v: v) == 11
    await agent.stop()


async def test_get_and_update_returns_the_result_and_stores_the_new_value() -> None:
    agent: Agent[list[str]] = await Agent.start(lambda: ["a", "b", "c"])
    assert await agent.get_and_update(lambda v: (v[0], v[1:])) == "a"
    assert await agent.get(lambda v: v) == ["b", "c"]
    await agent.stop()


async def test_cast_changes_the_value_without_waiting_and_in_order() -> None:
    agent: Agent[list[int]] = await Agent.start(list)
    for n in range(5):
        assert agent.cast(lambda v, n=n: [*v, n]) is None  # type: ignore[misc]
    assert await agent.get(lambda v: v) == [0, 1, 2, 3, 4]
    await agent.stop()


async def test_concurrent_updates_are_serialised() -> None:
    agent: Agent[int] = await Agent.start(lambda: 0)
    await asyncio.gather(*(agent.update(lambda v: v + 1) for _ in range(100)))
    assert await agent.get(lambda v: v) == 100
    await agent.stop()


async def test_concurrent_get_and_updates_each_see_a_distinct_value() -> None:
    agent: Agent[int] = await Agent.start(lambda: 0)
    tickets = await asyncio.gather(
        *(agent.get_and_update(lambda v: (v, v + 1)) for _ in range(100))
    )
    assert sorted(tickets) == list(range(100))
    assert await agent.get(lambda v: v) == 100
    await agent.stop()


async def test_an_agent_can_be_started_under_a_name() -> None:
    agent: Agent[str] = await Agent.start(lambda: "state", name="config")
    assert whereis("config") is agent
    with pytest.raises(AlreadyStarted) as caught:
        await Agent.start(lambda: "other", name="config")
    assert caught.value.process is agent
    await agent.stop()
    assert whereis("config") is None


async def test_start_raises_what_initial_raises() -> None:
    error = Boom("no initial value")

    def initial() -> int:
        raise error

    with pytest.raises(Boom) as caught:
        await Agent.start(initial, name="broken")
    assert caught.value is error
    assert whereis("broken") is None


@pytest.mark.parametrize("operation", ["get", "update", "get_and_update"])
async def test_an_exception_in_a_function_crashes_the_agent_and_the_caller_gets_no_process(
    operation: str,
) -> None:
    agent: Agent[int] = await Agent.start(lambda: 0)
    error = Boom("bad function")

    def bad(value: int) -> int:
        raise error

    with pytest.raises(NoProcess) as caught:
        await getattr(agent, operation)(bad)
    assert caught.value.reason is error
    assert agent.exit_reason is error
    assert not agent.alive
    with pytest.raises(NoProcess):
        await agent.get(lambda v: v)


async def test_an_exception_in_a_cast_function_crashes_the_agent() -> None:
    agent: Agent[int] = await Agent.start(lambda: 0)
    error = Boom("bad cast")

    def bad(value: int) -> int:
        raise error

    agent.cast(bad)
    with pytest.raises(NoProcess) as caught:
        await agent.get(lambda v: v)
    assert caught.value.reason is error
    assert not agent.alive
