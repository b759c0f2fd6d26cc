"""Crash reports in a crash loop: the first of a kind has its traceback, repeats are one line."""

from __future__ import annotations

import logging

import pytest
from helpers import Boom, Worker
from otp import ONE_FOR_ONE, UNIQUE, Registry, Supervisor, _reports, via


def crash_reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "exited with reason" in r.getMessage()]


async def crash_once(key: str = "w") -> None:
    worker = await Worker.start(key)
    worker.cast("crash")
    assert await worker.wait_exit(5.0)


async def test_a_crash_loop_reports_the_traceback_once_then_one_line_per_repeat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry(UNIQUE, name="reports")
    sup = await Supervisor.start(
        [Worker.child_spec("w", name=via(registry, "w"))],
        strategy=ONE_FOR_ONE,
        max_restarts=1_000,
        max_seconds=60.0,
    )
    try:
        for _ in range(50):
            worker = registry.whereis("w")
            assert isinstance(worker, Worker)
            worker.cast("crash")
            assert await worker.wait_exit(5.0)
            while registry.whereis("w") in (None, worker):  # until the restart registered
                await sup.count_children()
    finally:
        await sup.stop()
    first, *repeats = crash_reports(caplog)
    assert first.exc_info is not None
    assert isinstance(first.exc_info[1], Boom)
    assert "repeat" not in first.getMessage()
    assert len(repeats) == 49
    assert all(r.exc_info is None for r in repeats)
    assert "1 repeat in the" in repeats[0].getMessage()
    assert "49 repeats in the" in repeats[-1].getMessage()
    assert "Boom('w crashed')" in repeats[-1].getMessage()  # the reason is still there


async def test_a_crash_of_another_kind_gets_its_own_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Other(Worker):
        async def handle_cast(self, msg: object) -> None:
            raise ValueError(msg)

    await crash_once()
    await crash_once()
    other = await Other.start("o")
    other.cast("bad")
    assert await other.wait_exit(5.0)
    full = [r for r in crash_reports(caplog) if r.exc_info is not None]
    assert [type(r.exc_info[1]) for r in full if r.exc_info] == [Boom, ValueError]


async def test_the_same_crash_after_a_quiet_window_is_reported_in_full_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(_reports.time, "monotonic", lambda: clock[0])
    await crash_once()
    clock[0] += _reports.REPEAT_WINDOW / 2
    await crash_once()
    clock[0] += _reports.REPEAT_WINDOW + 1
    await crash_once()
    assert [r.exc_info is not None for r in crash_reports(caplog)] == [True, False, True]


def test_the_kinds_remembered_are_bounded() -> None:
    for n in range(3 * _reports._MAX_KINDS):
        code = compile("raise KeyError(0)", f"<kind {n}>", "exec")
        with pytest.raises(KeyError) as raised:
            exec(code)
        assert _reports.traceback_or_repeat(raised.value) == (raised.value, "")
    assert len(_reports._seen) == _reports._MAX_KINDS


def test_an_exception_never_raised_is_reported_in_full() -> None:
    exc = RuntimeError("made, not raised")
    assert _reports.traceback_or_repeat(exc) == (exc, "")
    assert _reports.traceback_or_repeat(exc) == (exc, "")
