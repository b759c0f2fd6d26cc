"""`otp.instrument(hooks)` called outside a running loop, as an application's `main()` does
before `otp.run` starts its loop: the hooks hold for every loop started afterwards, until
removed the same way; a loop may still opt out, and hooks installed inside a loop stay
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


def test_a_loop_may_opt_out_and_the_next_loop_still_starts_with_them(
    recorder: Recorder,
) -> None:
    otp.instrument(recorder)

    async def opted_out() -> None:
        otp.instrument(None)  # this loop only
        await talk()

    asyncio.run(opted_out())
    assert recorder.seen == []
    asyncio.run(talk())
    assert ("on_call", "ping") in recorder.seen


def test_hooks_installed_inside_a_loop_stay_in_that_loop(recorder: Recorder) -> None:
    async def instrumented() -> None:
        otp.instrument(recorder)
        await talk()

    asyncio.run(instrumented())
    seen = len(recorder.seen)
    assert seen == 9
    asyncio.run(talk())
    assert len(recorder.seen) == seen
