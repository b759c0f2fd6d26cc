"""The application entry point, run for real: `sys.exit(otp.run(children))` in a subprocess.

Each test starts a small application with `sys.executable -c`, reads its output with
deadlines (a hang fails the test instead of blocking it) and checks what a service
manager sees: the "ready" log line, an orderly stop on SIGTERM/SIGINT with exit status 0,
and exit status 1 when the application cannot start or its root supervisor gives up.
`serve` (the coroutine under `run`) is also checked in-process where no signal is needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from otp import Continue, GenServer, serve, whereis

KERNEL_DIR = Path(__file__).resolve().parents[2] / "templates" / "kernel"
DEADLINE = 10.0  # seconds any one step of a subprocess may take before the test fails


# The application: three workers a, b, c started in that order. Each prints when its
# terminate has finished (after an await, so an unordered shutdown would interleave).
# `mode` makes b misbehave: "fail-start" (its init raises), "crash-loop" (it crashes
# right after every start, until the root supervisor gives up) or "block-start" (its init
# waits until the application is signalled).
APP = """
import asyncio
import dataclasses
import sys

import otp


class Worker(otp.GenServer):
    async def init(self, label, mode):
        self.label = label
        self.mode = mode
        if label == "b" and mode == "fail-start":
            raise RuntimeError("b refuses to start")
        if label == "b" and mode == "crash-loop":
            return otp.Continue("crash")
        if label == "b" and mode.startswith("block-start"):
            print("b is starting", file=sys.stderr, flush=True)
            await asyncio.Event().wait()  # until a signal stops the application
        return None

    async def handle_continue(self, arg):
        await asyncio.sleep(0.01)
        raise RuntimeError("b crashed")

    async def terminate(self, reason):
        if self.label == "c" and self.mode in ("overrun", "slow-stop"):
            print("c is stopping", file=sys.stderr, flush=True)
            await asyncio.sleep(3600)  # past any budget: until it is killed
        if self.label == "a" and self.mode == "block-start-slow-stop":
            print("a is stopping", file=sys.stderr, flush=True)
            await asyncio.sleep(3600)  # until a second signal kills it
        if self.label == "c" and self.mode == "swallow":
            print("c is stopping", file=sys.stderr, flush=True)
            while True:  # a child no cancellation stops
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass
        await asyncio.sleep(0.01)
        print(f"terminated {self.label} {reason!r}", flush=True)


mode = sys.argv[1]
children = [Worker.child_spec(label, mode, name=label) for label in "abc"]
if mode in ("overrun", "slow-stop", "swallow"):  # c's budget: 0.3 s, or as long as it takes
    budget = None if mode == "slow-stop" else 0.3
    children[2] = dataclasses.replace(children[2], shutdown=budget)
if mode == "swallow":
    import otp._shutdown

    otp._shutdown.KILL_GRACE = 0.5  # (5 s in services)
sys.exit(otp.run(children))
"""


class App:
    """A running application subprocess and everything it has written to stderr so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr: list[str] = []

    async def wait_for_stderr(self, text: str) -> None:
        """Read stderr lines until one contains `text`; fail after DEADLINE seconds."""
        assert self.process.stderr is not None
        try:
            async with asyncio.timeout(DEADLINE):
                while True:
                    line = await self.process.stderr.readline()
                    if not line:
                        pytest.fail(f"stderr closed before {text!r}: {''.join(self.stderr)}")
                    self.stderr.append(line.decode())
                    if text in self.stderr[-1]:
                        return
        except TimeoutError:
            pytest.fail(f"no {text!r} within {DEADLINE}s; stderr so far: {''.join(self.stderr)}")

    async def finish(self) -> tuple[int, str, str]:
        """Wait for the exit (DEADLINE at most): (status, stdout, all of stderr)."""
        try:
            out, err = await asyncio.wait_for(self.process.communicate(), DEADLINE)
        except TimeoutError:
            pytest.fail(f"the application did not exit within {DEADLINE}s")
        self.stderr.append(err.decode())
        status = self.process.returncode
        assert status is not None
        return status, out.decode(), "".join(self.stderr)


@pytest.fixture
async def start_app() -> AsyncIterator[Any]:
    apps: list[App] = []

    async def start(mode: str, **environ: str) -> App:
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(KERNEL_DIR), path]))}
        env.update(environ)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            APP,
            mode,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        apps.append(App(process))
        return apps[-1]

    yield start
    for app in apps:  # a failed test must not leave an application running
        if app.process.returncode is None:
            app.process.kill()
            await app.process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_children_in_reverse_order_and_exits_0(
    start_app: Any, signum: signal.Signals
) -> None:
    app = await start_app("normal")
    await app.wait_for_stderr("ready")
    app.process.send_signal(signum)
    status, out, err = await app.finish()
    assert out.splitlines() == [
        "terminated c 'shutdown'",
        "terminated b 'shutdown'",
        "terminated a 'shutdown'",
    ]
    assert status == 0, err
    assert f"{signum.name} received" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_while_the_tree_starts_stops_the_started_children_and_exits_0(
    start_app: Any, signum: signal.Signals
) -> None:
    app = await start_app("block-start")
    await app.wait_for_stderr("b is starting")
    app.process.send_signal(signum)
    status, out, err = await app.finish()
    assert out.splitlines() == ["terminated a 'shutdown'"]  # b never finished init, c never ran
    assert status == 0, err
    assert f"{signum.name} received" in err
    assert "ready" not in err
    assert "Traceback" not in err


async def test_a_child_overrunning_its_shutdown_budget_is_logged_by_name_and_killed(
    start_app: Any,
) -> None:
    app = await start_app("overrun")
    await app.wait_for_stderr("ready")
    app.process.send_signal(signal.SIGTERM)
    status, out, err = await app.finish()
    assert "child 'c' overran its shutdown budget of 0.3s; killing it" in err
    assert out.splitlines() == ["terminated b 'shutdown'", "terminated a 'shutdown'"]
    assert status == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("mode", "up", "stopping", "signum", "said"),
    [
        # c takes an hour to stop; the second Ctrl-C kills it
        ("slow-stop", "ready", "c is stopping", signal.SIGINT, "application stopped by force"),
        # the same while the tree is still starting (b in its init, a taking an hour)
        (
            "block-start-slow-stop",
            "b is starting",
            "a is stopping",
            signal.SIGTERM,
            "application stopped by force while starting",
        ),
    ],
    ids=["running", "starting"],
)
async def test_a_second_signal_forces_the_stop_says_so_and_exits_1(
    start_app: Any, mode: str, up: str, stopping: str, signum: signal.Signals, said: str
) -> None:
    app = await start_app(mode)
    await app.wait_for_stderr(up)
    app.process.send_signal(signum)
    await app.wait_for_stderr(stopping)
    app.process.send_signal(signum)
    status, out, err = await app.finish()
    assert f"{signum.name} received again: forcing the stop, killing what still runs" in err
    assert said in err
    assert status == 1
    if mode == "block-start-slow-stop":
        assert out == ""  # a's terminate was cut short
    assert "Traceback" not in err


async def test_a_child_swallowing_its_cancellation_does_not_keep_the_application_running(
    start_app: Any,
) -> None:
    app = await start_app("swallow")
    await app.wait_for_stderr("ready")
    app.process.send_signal(signal.SIGTERM)
    status, out, err = await app.finish()  # (asyncio.run would wait for c for ever)
    assert "swallowed its CancelledError; abandoning it" in err
    assert "Task was destroyed but it is pending" not in err  # (said once is enough)
    assert out.splitlines() == ["terminated b 'shutdown'", "terminated a 'shutdown'"]
    assert status == 0, err
    assert "Traceback" not in err


async def test_a_child_that_keeps_crashing_makes_the_root_give_up_and_exit_1(
    start_app: Any,
) -> None:
    app = await start_app("crash-loop")
    await app.wait_for_stderr("ready")
    status, out, err = await app.finish()
    assert status == 1, err
    assert "max restart intensity" in err
    assert "root supervisor exited" in err
    # Giving up still stops the remaining children in order.
    lines = out.splitlines()
    assert lines[-2:] == ["terminated c 'shutdown'", "terminated a 'shutdown'"]
    assert sum(line.startswith("terminated b RuntimeError") for line in lines) == 4


async def test_json_logs_carry_the_process_child_and_reason_as_fields(start_app: Any) -> None:
    app = await start_app("crash-loop", OTP_LOG_FORMAT="json")
    status, _, err = await app.finish()
    assert status == 1
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    crash = next(e for e in entries if e["message"].startswith("process "))
    assert crash["level"] == "ERROR"
    assert crash["process"] == "b"
    assert crash["reason"] == "RuntimeError('b crashed')"
    assert "Traceback" in crash["traceback"]  # the first crash of its kind carries it
    restart = next(e for e in entries if e["message"].endswith("; restarting"))
    assert (restart["level"], restart["child"]) == ("WARNING", "b")
    assert restart["reason"] == "RuntimeError('b crashed')"
    gave_up = next(e for e in entries if "max restart intensity" in e["message"])
    assert gave_up["reason"] == "Shutdown(detail='reached_max_restart_intensity')"


async def test_a_child_failing_to_start_exits_1_without_ready(start_app: Any) -> None:
    app = await start_app("fail-start")
    status, out, err = await app.finish()
    assert status == 1, err
    assert "failed to start" in err
    assert "b refuses to start" in err
    assert "ready" not in err
    assert out.splitlines() == ["terminated a 'shutdown'"]  # what had started is stopped


# serve(), in-process


class Refuses(GenServer):
    async def init(self) -> None:
        raise RuntimeError("refused")


class CrashesAfterStart(GenServer):
    async def init(self) -> Continue:
        return Continue("crash")

    async def handle_continue(self, arg: Any) -> None:
        raise RuntimeError("crashed after start")


async def test_serve_returns_1_when_a_child_fails_to_start() -> None:
    assert await serve([Refuses.child_spec(name="refuses")]) == 1


@pytest.mark.looptime
async def test_serve_returns_1_when_the_root_supervisor_gives_up() -> None:
    status = await serve([CrashesAfterStart.child_spec(name="crashy")], max_restarts=2)
    assert status == 1


class Records(GenServer):
    async def init(self, events: list[str]) -> None:
        self.events = events
        await asyncio.sleep(0)

    async def terminate(self, reason: object) -> None:
        self.events.append(f"terminated {reason!r}")


async def test_serve_cancelled_as_its_start_finishes_stops_the_tree_before_it_raises() -> None:
    # Cancelled in the loop turn where its start task finishes, before serve resumes:
    # serve used to raise at once and leave the whole tree running.
    loop = asyncio.get_running_loop()
    events: list[str] = []
    serving = asyncio.create_task(serve([Records.child_spec(events, name="records")]))
    await asyncio.sleep(0)
    (starting,) = [t for t in asyncio.all_tasks() if t.get_name() == "otp application start"]

    def cancel_once_started() -> None:
        if starting.done():
            serving.cancel()
        else:
            loop.call_soon(cancel_once_started)

    loop.call_soon(cancel_once_started)
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert events == ["terminated 'shutdown'"]
    assert whereis("records") is None
