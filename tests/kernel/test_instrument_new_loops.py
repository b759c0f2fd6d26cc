"""`otp.instrument(hooks)` called outside a running loop, as an application's `main()` does
before `otp.run` starts its loop: the hooks run in every loop, until removed the same way,
beside each loop's own hooks (each with its own tokens); hooks installed inside a loop stay
there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import otp
import pytest
from otp import Caller, GenServer


class Recorder:
    """Hooks that note what they see; the caller's token is the request itself."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def on_call(self, process: GenServer, request: object) -> object:
        self.seen.append(("on_call", request))
        return f"token of {request}"

    def on_cast(self, process: GenServer, msg: object) -> object:
        self.seen.append(("on_cast", msg))
        return f"token of {msg}"

    def on_handle(self, process: GenServer, kind: str, msg: object, token: object) -> object:
        self.seen.append(("on_handle", kind, msg, token))
        return msg

    def on_handled(self, process: GenServer, state: object, error: BaseException | None) -> None:
        self.seen.append(("on_handled", state, error))


class Echo(GenServer):
    async def handle_call(self, request: object, caller: Caller) -> object:
        return request

    async def handle_cast(self, msg: object) -> None:
        return None


async def talk() -> None:
    """A call and a cast on a fresh loop, to a process with no supervisor and no name
    (nothing else has made the loop known to the kernel first)."""
    server = await Echo.start()
    try:
        assert await server.call("ping") == "ping"
        server.cast("note")
        assert await server.call("sync") == "sync"
    finally:
        await server.stop()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    otp.instrument(None)  # (outside a loop: no hooks for the loops of later tests)


def test_hooks_installed_outside_a_loop_hold_in_a_loop_started_afterwards(
    recorder: Recorder,
) -> None:
    otp.instrument(recorder)
    asyncio.run(talk())  # its own loop, as otp.run's
    assert recorder.seen == [
        ("on_call", "ping"),
        ("on_handle", "call", "ping", "token of ping"),
        ("on_handled", "ping", None),
        ("on_cast", "note"),
        ("on_call", "sync"),
        ("on_handle", "cast", "note", "token of note"),
        ("on_handled", "note", None),
        ("on_handle", "call", "sync", "token of sync"),
        ("on_handled", "sync", None),
    ]


def test_removed_outside_a_loop_they_are_gone_from_the_loops_after(recorder: Recorder) -> None:
    otp.instrument(recorder)
    otp.instrument(None)
    asyncio.run(talk())
    assert recorder.seen == []


def test_a_loops_own_hooks_run_beside_them_each_with_its_own_tokens(
    recorder: Recorder,
) -> None:
    own = Recorder()
    otp.instrument(recorder)

    async def with_its_own() -> None:
        otp.instrument(own)  # this loop's, beside those of every loop
        await talk()
        otp.instrument(None)  # this loop's only
        server = await Echo.start()
        await server.call("after")
        await server.stop()

    asyncio.run(with_its_own())
    assert own.seen[:3] == [
        ("on_call", "ping"),
        ("on_handle", "call", "ping", "token of ping"),
        ("on_handled", "ping", None),
    ]
    assert ("on_handle", "call", "after", "token of after") not in own.seen
    assert recorder.seen[:3] == own.seen[:3]
    assert ("on_handle", "call", "after", "token of after") in recorder.seen


def test_the_loops_own_hooks_leave_first_what_they_entered_last() -> None:
    order: list[str] = []

    class Named(Recorder):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def on_handle(self, process: GenServer, kind: str, msg: object, token: object) -> object:
            order.append(f"enter {self.name}")
            return None

        def on_handled(
            self, process: GenServer, state: object, error: BaseException | None
        ) -> None:
            order.append(f"leave {self.name}")

    otp.instrument(Named("every"))

    async def one_call() -> None:
        otp.instrument(Named("own"))
        server = await Echo.start()
        await server.call("x")
        await server.stop()

    try:
        asyncio.run(one_call())
    finally:
        otp.instrument(None)
    assert order == ["enter every", "enter own", "leave own", "leave every"]


def test_hooks_installed_inside_a_loop_stay_in_that_loop(recorder: Recorder) -> None:
    async def instrumented() -> None:
        otp.instrument(recorder)
        await talk()

    asyncio.run(instrumented())
    seen = len(recorder.seen)
    assert seen == 9
    asyncio.run(talk())
    assert len(recorder.seen) == seen
