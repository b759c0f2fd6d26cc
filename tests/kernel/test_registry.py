"""Registry conformance: unique and duplicate keys, via names, cleanup on exit, races.

Modelled on Elixir's Registry tests: entries are plain table rows that disappear in the
same step as their process exits, and a taken unique key is refused with the holder.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from otp import (
    DUPLICATE,
    UNIQUE,
    AlreadyStarted,
    Caller,
    GenServer,
    Keys,
    NoProcess,
    Registry,
    Via,
    via,
    whereis,
)

# Every test runs on looptime's fake clock: sleeps and timeouts take no real time and
# loop.time() is exact. A test that hangs fails instead: all its tasks are failed when the
# loop sits idle (nothing ready, nothing scheduled) for 2 real seconds.
pytestmark = pytest.mark.looptime(idle_timeout=2)


class Boom(Exception):
    """The crash the tests provoke."""


class Worker(GenServer):
    """Answers calls with (tag, request), records casts and infos, crashes on request."""

    async def init(self, tag: object = None, *, slow: float = 0) -> None:
        self.tag = tag
        self.received: list[object] = []
        if slow:
            await asyncio.sleep(slow)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "received":
            return list(self.received)
        if request == "crash":
            raise Boom("crash")
        return (self.tag, request)

    async def handle_cast(self, msg: Any) -> None:
        self.received.append(("cast", msg))

    async def handle_info(self, msg: Any) -> None:
        self.received.append(("info", msg))


async def exited(process: GenServer) -> None:
    """Wait until `process` has exited; after 10 (virtual) seconds fail instead of hanging."""
    assert await process.wait_exit(10), f"{process!r} did not exit"


async def stop_all(*processes: GenServer) -> None:
    for process in processes:
        if process.alive:
            await process.stop()


# Keys and the table


async def test_a_registry_is_unique_by_default_and_rejects_an_unknown_keys_kind() -> None:
    assert Registry().keys is UNIQUE
    assert Registry(DUPLICATE).keys is Keys.DUPLICATE
    with pytest.raises(TypeError, match="keys must be UNIQUE or DUPLICATE, got: 'unique'"):
        Registry("unique")  # type: ignore[arg-type]


async def test_unique_register_then_lookup_and_whereis_find_the_process_and_value() -> None:
    registry = Registry()
    worker = await Worker.start()
    registry.register("key", worker, {"role": "primary"})
    assert registry.lookup("key") == [(worker, {"role": "primary"})]
    assert registry.whereis("key") is worker
    assert registry.lookup("missing") == []
    assert registry.whereis("missing") is None
    await worker.stop()


async def test_registering_the_same_unique_key_again_replaces_the_value_only() -> None:
    registry = Registry()
    worker = await Worker.start()
    registry.register("key", worker, 1)
    registry.register("key", worker, 2)
    assert registry.lookup("key") == [(worker, 2)]
    assert registry.count() == 1
    assert registry.keys_of(worker) == ["key"]
    await worker.stop()


async def test_a_duplicate_key_holds_many_processes_each_once() -> None:
    registry = Registry(DUPLICATE)
    a, b = await Worker.start("a"), await Worker.start("b")
    registry.register("topic", a, "first")
    registry.register("topic", b, "second")
    registry.register("topic", a, "again")  # same process: the value is replaced
    assert sorted(registry.lookup("topic"), key=lambda e: e[1]) == [(a, "again"), (b, "second")]
    assert registry.count() == 2
    assert registry.keys_of(a) == ["topic"]
    await stop_all(a, b)


async def test_whereis_needs_a_unique_registry() -> None:
    with pytest.raises(TypeError, match="UNIQUE"):
        Registry(DUPLICATE).whereis("topic")


async def test_unregister_removes_only_that_entry_and_ignores_missing_ones() -> None:
    registry = Registry(DUPLICATE)
    a, b = await Worker.start("a"), await Worker.start("b")
    registry.register("topic", a)
    registry.register("topic", b)
    registry.register("other", a)
    registry.unregister("topic", a)
    assert registry.lookup("topic") == [(b, None)]
    assert registry.keys_of(a) == ["other"]
    registry.unregister("topic", a)  # not there any more: nothing happens
    registry.unregister("nowhere", b)
    assert registry.count() == 2
    await stop_all(a, b)


async def test_unregister_of_a_unique_key_held_by_another_process_leaves_it_alone() -> None:
    registry = Registry()
    a, b = await Worker.start("a"), await Worker.start("b")
    registry.register("key", a)
    registry.unregister("key", b)
    assert registry.whereis("key") is a
    registry.unregister("key", a)
    assert registry.whereis("key") is None
    assert registry.keys_of(a) == []
    await stop_all(a, b)


async def test_keys_of_lists_the_keys_of_a_process_in_this_registry_only() -> None:
    registry, elsewhere = Registry(), Registry()
    worker = await Worker.start(name=via(registry, "name"))
    registry.register("alias", worker)
    elsewhere.register("foreign", worker)
    assert sorted(registry.keys_of(worker)) == ["alias", "name"]
    assert elsewhere.keys_of(worker) == ["foreign"]
    await worker.stop()


async def test_unregister_of_a_process_own_via_name_removes_it_as_elixir_does() -> None:
    registry = Registry()
    worker = await Worker.start(name=via(registry, "name"))

    registry.unregister("name", worker)

    assert registry.lookup("name") == []
    assert registry.keys_of(worker) == []
    assert registry.count() == 0
    assert worker.alive  # it runs on, under no name
    other = await Worker.start(name=via(registry, "name"))  # the name is free for another
    assert registry.whereis("name") is other
    await worker.stop()  # its exit leaves the new holder's entry alone
    assert registry.whereis("name") is other
    await other.stop()
    assert registry.count() == 0


async def test_a_via_name_needs_a_unique_registry_as_in_elixir() -> None:
    registry = Registry(DUPLICATE)
    with pytest.raises(TypeError, match="with a UNIQUE Registry"):
        await Worker.start(name=via(registry, "name"))
    assert registry.count() == 0


@pytest.mark.parametrize("how", ["crash", "stop", "cancel"])
async def test_keys_of_a_process_that_has_exited_is_empty(how: str) -> None:
    registry = Registry()
    worker = await Worker.start(name=via(registry, "name"))
    registry.register("alias", worker)
    await _end(worker, how)
    assert registry.keys_of(worker) == []


async def test_count_and_len_count_key_process_entries() -> None:
    unique, duplicate = Registry(), Registry(DUPLICATE)
    a, b = await Worker.start("a"), await Worker.start("b")
    unique.register("a", a)
    unique.register("b", b)
    unique.register("also a", a)
    for key in ("x", "y"):
        duplicate.register(key, a)
        duplicate.register(key, b)
    assert unique.count() == len(unique) == 3
    assert duplicate.count() == len(duplicate) == 4
    await stop_all(a, b)
    assert len(unique) == len(duplicate) == 0


# Cleanup on exit


async def _end(process: GenServer, how: str) -> None:
    if how == "crash":
        with pytest.raises(NoProcess):
            await process.call("crash")
    elif how == "stop":
        await process.stop()
    else:
        assert process._otp_task is not None
        process._otp_task.cancel()
        await exited(process)


@pytest.mark.parametrize("how", ["crash", "stop", "cancel"])
async def test_entries_vanish_when_their_process_exits(how: str) -> None:
    unique, duplicate = Registry(), Registry(DUPLICATE)
    worker = await Worker.start(name=via(unique, "named"))
    other = await Worker.start()
    unique.register("extra", worker, "value")
    duplicate.register("topic", worker)
    duplicate.register("topic", other)
    await _end(worker, how)
    assert unique.whereis("named") is None
    assert unique.lookup("extra") == []
    assert unique.count() == 0
    assert duplicate.lookup("topic") == [(other, None)]
    assert unique._entries == {}  # nothing stale left inside
    await other.stop()
    assert duplicate._entries == {}


async def test_the_value_of_an_exited_holder_does_not_leak_to_the_next_one() -> None:
    registry = Registry()
    first = await Worker.start()
    registry.register("key", first, "first's value")
    await first.stop()
    second = await Worker.start()
    registry.register("key", second)
    assert registry.lookup("key") == [(second, None)]
    await second.stop()


async def test_registering_a_dead_process_raises_no_process() -> None:
    registry = Registry(DUPLICATE)
    worker = await Worker.start()
    await worker.stop()
    with pytest.raises(NoProcess):
        registry.register("topic", worker)
    assert registry.count() == 0
    with pytest.raises(NoProcess):
        Registry().register("key", worker)


async def test_a_restarted_process_can_register_the_same_key_again() -> None:
    registry = Registry()
    name = via(registry, "service")
    first = await Worker.start(1, name=name)
    with pytest.raises(NoProcess):
        await first.call("crash")
    second = await Worker.start(2, name=name)
    assert second is not first
    assert registry.whereis("service") is second
    assert await name.call("hi") == (2, "hi")
    await second.stop()


# Dispatch


async def test_dispatch_calls_fn_once_with_every_entry_of_a_duplicate_key() -> None:
    registry = Registry(DUPLICATE)
    subscribers = [await Worker.start(n) for n in range(3)]
    for n, worker in enumerate(subscribers):
        registry.register("news", worker, n * 10)
    calls: list[list[tuple[GenServer, Any]]] = []

    def broadcast(entries: list[tuple[GenServer, Any]]) -> None:
        calls.append(entries)
        for worker, value in entries:
            worker.send(("news", value))

    registry.dispatch("news", broadcast)
    assert len(calls) == 1
    assert sorted(calls[0], key=lambda e: e[1]) == [(w, n * 10) for n, w in enumerate(subscribers)]
    for n, worker in enumerate(subscribers):
        assert await worker.call("received") == [("info", ("news", n * 10))]
    await stop_all(*subscribers)


async def test_dispatch_is_not_called_for_a_missing_key() -> None:
    calls: list[object] = []
    Registry(DUPLICATE).dispatch("nobody", calls.append)
    Registry().dispatch("nobody", calls.append)
    assert calls == []


async def test_dispatch_on_a_unique_key_passes_the_single_entry() -> None:
    registry = Registry()
    worker = await Worker.start()
    registry.register("key", worker, "v")
    calls: list[object] = []
    registry.dispatch("key", calls.append)
    assert calls == [[(worker, "v")]]
    await worker.stop()


# Via names


async def test_via_returns_a_via_name_of_registry_and_key() -> None:
    registry = Registry(name="sessions")
    name = via(registry, "alice")
    assert isinstance(name, Via)
    assert (name.registry, name.key) == (registry, "alice")
    assert name == via(registry, "alice")
    assert "alice" in repr(name)


async def test_a_process_started_with_a_via_name_is_found_through_it() -> None:
    registry = Registry()
    name = via(registry, ("user", 7))
    worker = await Worker.start("w", name=name)
    assert registry.whereis(("user", 7)) is worker
    assert registry.lookup(("user", 7)) == [(worker, None)]
    assert name.whereis() is worker
    assert whereis(name) is worker
    assert worker.name == name
    await worker.stop()


async def test_via_call_cast_send_and_stop_reach_the_registered_process() -> None:
    registry = Registry()
    name = via(registry, "worker")
    worker = await Worker.start("w", name=name)
    assert await name.call("hello") == ("w", "hello")
    name.cast("c")
    name.send("i")
    assert await name.call("received") == [("cast", "c"), ("info", "i")]
    await name.stop("done")
    assert worker.exit_reason == "done"
    assert name.whereis() is None


async def test_via_call_and_stop_raise_no_process_when_nothing_is_registered() -> None:
    name = via(Registry(), "ghost")
    with pytest.raises(NoProcess):
        await name.call("hello")
    with pytest.raises(NoProcess):
        await name.stop()
    name.cast("dropped")  # cast and send are dropped silently
    name.send("dropped")
    assert name.whereis() is None
    assert whereis(name) is None


async def test_via_looks_the_process_up_on_every_use() -> None:
    registry = Registry()
    name = via(registry, "service")
    first = await Worker.start(1, name=name)
    assert await name.call("who") == (1, "who")
    await first.stop()
    with pytest.raises(NoProcess):
        await name.call("who")
    second = await Worker.start(2, name=name)
    assert await name.call("who") == (2, "who")
    await second.stop()


# Taken keys and races


async def test_a_taken_unique_key_raises_already_started_and_does_not_grow_the_table() -> None:
    registry = Registry()
    holder, other = await Worker.start("holder"), await Worker.start("other")
    registry.register("key", holder, "holder's value")
    sizes = (registry.count(), len(registry._entries))
    with pytest.raises(AlreadyStarted) as caught:
        registry.register("key", other, "other's value")
    assert caught.value.process is holder
    assert caught.value.key == "key"
    assert (registry.count(), len(registry._entries)) == sizes
    assert registry.lookup("key") == [(holder, "holder's value")]
    assert registry.keys_of(other) == []
    await stop_all(holder, other)
    assert registry.count() == 0


async def test_starting_under_a_taken_via_name_raises_already_started_with_the_holder() -> None:
    registry = Registry()
    name = via(registry, "only")
    holder = await Worker.start("first", name=name)
    before = set(asyncio.all_tasks())
    with pytest.raises(AlreadyStarted) as caught:
        await Worker.start("second", name=name)
    assert caught.value.process is holder
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    assert registry.count() == 1
    assert await name.call("who") == ("first", "who")
    await holder.stop()


async def test_concurrent_starts_under_one_via_name_start_exactly_one_process() -> None:
    registry = Registry()
    name = via(registry, "singleton")
    results = await asyncio.gather(
        *(Worker.start(n, name=name, slow=1) for n in range(100)), return_exceptions=True
    )
    started = [r for r in results if isinstance(r, Worker)]
    refused = [r for r in results if isinstance(r, AlreadyStarted)]
    assert len(started) == 1
    assert len(refused) == 99
    [winner] = started
    assert all(error.process is winner for error in refused)
    assert registry.whereis("singleton") is winner
    assert registry.count() == 1
    await winner.stop()


async def test_get_or_start_with_already_started_gives_every_caller_the_same_process() -> None:
    registry = Registry()

    async def get_or_start(key: str) -> GenServer:
        try:
            return await Worker.start(key, name=via(registry, key))
        except AlreadyStarted as taken:
            holder: GenServer = taken.process
            return holder

    found = await asyncio.gather(*(get_or_start(k) for k in ["a", "b", "a", "a", "b"]))
    assert found[0] is found[2] is found[3]
    assert found[1] is found[4]
    assert found[0] is not found[1]
    assert registry.count() == 2
    await stop_all(found[0], found[1])
