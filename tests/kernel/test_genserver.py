"""GenServer conformance: start, call/cast/info, continue, stop, terminate, monitors, logs.

Modelled on OTP's gen_server_SUITE and Elixir's GenServer tests. Every test runs on the
fake loop clock (looptime): sleeps are instant and `loop.time()` is virtual, so the elapsed
times asserted below are exact.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from otp import (
    KILLED,
    NOREPLY,
    NORMAL,
    SHUTDOWN,
    AlreadyStarted,
    Caller,
    CallingSelf,
    CallTimeout,
    ChildSpec,
    Continue,
    Down,
    GenServer,
    NoProcess,
    NoReply,
    Registry,
    Reply,
    Shutdown,
    Stop,
    is_normal,
    via,
    whereis,
)

# Every test runs on looptime's fake clock: sleeps and timeouts take no real time and
# loop.time() is exact. A test that hangs fails instead: all its tasks are failed when the
# loop sits idle (nothing ready, nothing scheduled) for 2 real seconds.
pytestmark = pytest.mark.looptime(idle_timeout=2)


class Boom(Exception):
    """The crash the tests provoke."""


async def exited(process: GenServer) -> None:
    """Wait until `process` has exited; after 10 (virtual) seconds fail instead of hanging."""
    assert await process.wait_exit(10), f"{process!r} did not exit"


def now() -> float:
    return asyncio.get_running_loop().time()


# A general-purpose server: its behaviour is driven by the requests it gets.


class Echo(GenServer):
    """Replies to calls, records casts and infos, and can be told to misbehave."""

    async def init(self, *args: Any, terminated: list[object] | None = None, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.log: list[object] = []
        self.terminated = terminated if terminated is not None else []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        match request:
            case ("sleep", seconds, reply):
                await asyncio.sleep(seconds)
                return reply
            case ("crash", seconds):
                await asyncio.sleep(seconds)
                raise Boom("crashed mid-call")
            case "log":
                return list(self.log)
            case ("stop", reason):
                return Stop(reason)
            case ("reply-stop", value, reason):
                return Reply(value, Stop(reason))
        return request

    async def handle_cast(self, msg: Any) -> Stop | None:
        self.log.append(("cast", msg))
        match msg:
            case ("stop", reason):
                return Stop(reason)
            case "crash":
                raise Boom("crashed in handle_cast")
            case ("block", seconds):
                await asyncio.sleep(seconds)
        return None

    async def handle_info(self, msg: Any) -> Stop | None:
        self.log.append(("info", msg))
        if type(msg) is tuple and msg[0] == "stop":
            return Stop(msg[1])
        return None

    async def terminate(self, reason: object) -> None:
        self.terminated.append(reason)


# Starting


async def test_start_returns_a_running_process_once_init_has_returned() -> None:
    server = await Echo.start()
    assert server.alive
    assert server.exit_reason is None
    assert server.log == []  # init ran before start returned
    assert await server.call("ping") == "ping"
    await server.stop()


async def test_init_receives_the_positional_and_keyword_arguments_of_start() -> None:
    server = await Echo.start(1, "two", three=3)
    assert server.args == (1, "two")
    assert server.kwargs == {"three": 3}
    await server.stop()


async def test_default_init_refuses_arguments() -> None:
    class Bare(GenServer):
        pass

    with pytest.raises(TypeError, match="takes no arguments"):
        await Bare.start(1)
    bare = await Bare.start()
    await bare.stop()


async def test_a_string_name_is_registered_before_init_and_freed_at_exit() -> None:
    seen: list[object] = []

    class Named(GenServer):
        async def init(self) -> None:
            seen.append(whereis("named"))

    server = await Named.start(name="named")
    assert seen == [server]
    assert whereis("named") is server
    assert server.name == "named"
    await server.stop()
    assert whereis("named") is None


async def test_a_via_name_is_registered_in_its_registry_before_init() -> None:
    registry = Registry()
    seen: list[object] = []

    class Named(GenServer):
        async def init(self) -> None:
            seen.append(registry.whereis("key"))

    server = await Named.start(name=via(registry, "key"))
    assert seen == [server]
    assert whereis(via(registry, "key")) is server
    assert server.name == via(registry, "key")
    await server.stop()
    assert registry.whereis("key") is None


async def test_starting_under_a_taken_name_raises_already_started_carrying_the_holder() -> None:
    inits: list[int] = []

    class Once(GenServer):
        async def init(self, n: int) -> None:
            inits.append(n)

    first = await Once.start(1, name="once")
    with pytest.raises(AlreadyStarted) as caught:
        await Once.start(2, name="once")
    assert caught.value.process is first
    assert caught.value.key == "once"
    assert inits == [1]  # the second process never ran init
    assert whereis("once") is first
    await first.stop()


async def test_init_raising_makes_start_raise_it_and_leaves_nothing_behind() -> None:
    terminated: list[object] = []
    error = Boom("refused")

    class Refuses(GenServer):
        async def init(self) -> None:
            await asyncio.sleep(0)
            raise error

        async def terminate(self, reason: object) -> None:
            terminated.append(reason)

    before = set(asyncio.all_tasks())
    with pytest.raises(Boom) as caught:
        await Refuses.start(name="refuses")
    assert caught.value is error
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    assert whereis("refuses") is None
    assert terminated == []  # terminate runs only once init succeeded
    server = await Echo.start(name="refuses")  # the name is free again
    await server.stop()


async def test_init_returning_a_bad_value_makes_start_raise_type_error_naming_it() -> None:
    class BadInit(GenServer):
        async def init(self) -> Any:
            return 42

    with pytest.raises(TypeError, match="42"):
        await BadInit.start(name="bad-init")
    assert whereis("bad-init") is None


async def test_a_call_made_while_init_runs_is_handled_once_init_returns() -> None:
    class SlowInit(GenServer):
        async def init(self) -> None:
            await asyncio.sleep(1)
            self.ready_at = now()

        async def handle_call(self, request: Any, caller: Caller) -> Any:
            return ("answered after init at", self.ready_at)

    starter = asyncio.create_task(SlowInit.start(name="slow"))
    await asyncio.sleep(0.5)
    starting = whereis("slow")
    assert starting is not None
    assert await starting.call("ping") == ("answered after init at", 1.0)
    assert await starter is starting
    await starting.stop()


async def test_killing_the_process_during_init_makes_start_raise_no_process_killed() -> None:
    terminated: list[object] = []

    class SlowInit(GenServer):
        async def init(self) -> None:
            await asyncio.sleep(10)

        async def terminate(self, reason: object) -> None:
            terminated.append(reason)

    starter = asyncio.create_task(SlowInit.start(name="slow"))
    await asyncio.sleep(1)
    starting = whereis("slow")
    assert starting is not None
    assert starting._otp_task is not None
    starting._otp_task.cancel()
    with pytest.raises(NoProcess) as caught:
        await starter
    assert caught.value.reason == KILLED
    assert whereis("slow") is None
    assert terminated == []  # init never returned


async def turns_to_start() -> int:
    """How many turns of the loop a start of a process whose init does not suspend takes."""
    loop = asyncio.get_running_loop()
    turns = 0

    def count_turns() -> None:  # runs once per turn of the loop
        nonlocal turns
        turns += 1
        ticker[0] = loop.call_soon(count_turns)

    ticker = [loop.call_soon(count_turns)]
    try:
        server = await GenServer.start()
        taken = turns
    finally:
        ticker[0].cancel()
    await server.stop()
    return taken


async def test_start_takes_no_turn_of_the_loop_when_init_does_not_suspend() -> None:
    assert await turns_to_start() == 0


@pytest.mark.usefixtures("queued_starts")
async def test_start_takes_one_turn_of_the_loop_when_its_first_step_is_queued() -> None:
    assert await turns_to_start() == 1


async def test_cancelling_start_kills_the_half_started_process() -> None:
    class SlowInit(GenServer):
        async def init(self) -> None:
            await asyncio.sleep(10)

    starter = asyncio.create_task(SlowInit.start(name="slow"))
    await asyncio.sleep(1)
    starting = whereis("slow")
    assert starting is not None
    starter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starter
    await exited(starting)
    assert not starting.alive
    assert whereis("slow") is None


async def test_class_whereis_finds_a_named_process_only_if_it_is_of_that_class() -> None:
    class Other(GenServer):
        pass

    registry = Registry()
    echo = await Echo.start(name="echo")
    other = await Other.start(name=via(registry, "other"))
    assert Echo.whereis("echo") is echo
    assert GenServer.whereis("echo") is echo
    assert Other.whereis("echo") is None
    assert Other.whereis(via(registry, "other")) is other
    assert Echo.whereis(via(registry, "other")) is None
    assert Echo.whereis("nobody") is None
    await echo.stop()
    await other.stop()
    assert Echo.whereis("echo") is None


async def test_wait_exit_is_true_once_the_process_exited_and_false_on_timeout() -> None:
    server = await Echo.start()
    server.cast(("block", 5))
    assert await server.wait_exit(1) is False
    assert now() == 1
    stopping = asyncio.create_task(server.stop())
    assert await server.wait_exit() is True
    assert now() == 5
    assert not server.alive
    await stopping
    assert await server.wait_exit(0) is True


async def test_child_spec_starts_the_class_with_the_given_arguments() -> None:
    spec = Echo.child_spec(1, name="echo", flag=True)
    assert isinstance(spec, ChildSpec)
    assert spec.id == "echo"
    assert Echo.child_spec().id == "Echo"
    server = await spec.start()
    assert isinstance(server, Echo)
    assert whereis("echo") is server
    assert (server.args, server.kwargs) == ((1,), {"flag": True})
    await server.stop()


# Continue


class Continuing(GenServer):
    """Records the order of continues and messages; every step yields to the loop."""

    async def init(self, first: object = None, **kwargs: Any) -> Continue | None:
        self.log: list[object] = []
        if kwargs.get("queue_in_init"):
            self.send("queued during init")
        return None if first is None else Continue(first)

    async def handle_continue(self, arg: Any) -> Continue | Stop | None:
        await asyncio.sleep(1)
        self.log.append(("continue", arg))
        if isinstance(arg, int) and arg > 1:
            return Continue(arg - 1)  # a chain: 3, 2, 1
        if arg == "stop":
            return Stop("stopped by continue")
        return None

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "log":
            return list(self.log)
        self.log.append(("call", request))
        return Reply(f"reply to {request}", Continue(f"after call {request}"))

    async def handle_cast(self, msg: Any) -> Continue:
        self.log.append(("cast", msg))
        return Continue(f"after cast {msg}")

    async def handle_info(self, msg: Any) -> Continue:
        self.log.append(("info", msg))
        return Continue(f"after info {msg}")


async def test_start_returns_before_the_continue_from_init_has_finished() -> None:
    server = await Continuing.start("load")
    assert now() == 0
    assert server.log == []
    assert await server.call("log") == [("continue", "load")]
    await server.stop()


async def test_continue_from_init_runs_before_a_message_queued_during_init() -> None:
    server = await Continuing.start("load", queue_in_init=True)
    server.cast("after start")
    await asyncio.sleep(10)
    assert await server.call("log") == [
        ("continue", "load"),
        ("info", "queued during init"),
        ("continue", "after info queued during init"),
        ("cast", "after start"),
        ("continue", "after cast after start"),
    ]
    await server.stop()


async def test_reply_with_continue_answers_first_and_continues_before_the_next_message() -> None:
    server = await Continuing.start()
    call = asyncio.create_task(server.call("a"))
    await asyncio.sleep(0)
    server.send("next")
    assert await call == "reply to a"
    assert now() == 0  # the reply did not wait for the continue
    await asyncio.sleep(10)
    assert await server.call("log") == [
        ("call", "a"),
        ("continue", "after call a"),
        ("info", "next"),
        ("continue", "after info next"),
    ]
    await server.stop()


async def test_continues_chain_until_one_returns_none() -> None:
    server = await Continuing.start(3)
    server.cast("behind the chain")
    assert await server.call("log") == [
        ("continue", 3),
        ("continue", 2),
        ("continue", 1),
        ("cast", "behind the chain"),
        ("continue", "after cast behind the chain"),
    ]
    await server.stop()


async def test_continue_may_stop_the_process() -> None:
    server = await Continuing.start("stop")
    await exited(server)
    assert server.exit_reason == "stopped by continue"


async def test_returning_continue_without_handle_continue_crashes_the_process() -> None:
    class NoHandler(GenServer):
        async def init(self) -> Continue:
            return Continue("x")

    server = await NoHandler.start()
    await exited(server)
    assert isinstance(server.exit_reason, RuntimeError)
    assert "handle_continue" in str(server.exit_reason)


# Calls


async def test_calls_from_many_tasks_each_get_their_own_reply() -> None:
    server = await Echo.start()
    replies = await asyncio.gather(*(server.call(("sleep", 0, n)) for n in range(50)))
    assert replies == list(range(50))
    await server.stop()


async def test_call_timeout_raises_call_timeout_which_is_a_timeout_error() -> None:
    server = await Echo.start()
    with pytest.raises(CallTimeout) as caught:
        await server.call(("sleep", 10, "late"), timeout=1)
    assert isinstance(caught.value, TimeoutError)
    assert now() == 1
    await server.stop()


async def test_a_late_reply_is_not_delivered_to_a_later_call_of_the_same_caller() -> None:
    server = await Echo.start()
    with pytest.raises(CallTimeout):
        await server.call(("sleep", 10, "late"), timeout=1)
    # The next call queues behind the slow one; it must get its own reply, not "late".
    assert await server.call("fresh", timeout=20) == "fresh"
    assert now() == 10
    assert await server.call("again") == "again"
    await server.stop()


async def test_calls_with_different_timeouts_each_expire_on_time() -> None:
    server = await Echo.start()
    blocker = asyncio.create_task(server.call(("sleep", 100, "done"), timeout=1000))
    await asyncio.sleep(0)
    results: dict[float, float] = {}

    async def timed(seconds: float) -> None:
        with pytest.raises(CallTimeout):
            await server.call("queued", timeout=seconds)
        results[seconds] = now()

    await asyncio.gather(timed(3), timed(1), timed(2), timed(1))
    assert results == {1: 1, 2: 2, 3: 3}
    assert await blocker == "done"
    await server.stop()


async def test_call_with_timeout_none_waits_as_long_as_it_takes() -> None:
    server = await Echo.start()
    assert await server.call(("sleep", 1000, "slow"), timeout=None) == "slow"
    assert now() == 1000
    await server.stop()


async def test_call_to_a_stopped_server_raises_no_process_with_its_exit_reason() -> None:
    server = await Echo.start()
    await server.stop("done")
    with pytest.raises(NoProcess) as caught:
        await server.call("ping")
    assert caught.value.reason == "done"


class SlowTerminate(GenServer):
    """Takes its time in terminate, so it can be called while it exits."""

    async def init(self, done: asyncio.Event) -> None:
        self.done = done

    async def handle_cast(self, msg: Any) -> Stop:
        return Stop(Boom(msg))

    async def terminate(self, reason: object) -> None:
        await self.done.wait()


@pytest.mark.parametrize("how", ["stop", "crash"])
async def test_a_call_while_the_server_exits_raises_no_process_with_the_reason(how: str) -> None:
    done = asyncio.Event()
    server = await SlowTerminate.start(done)
    if how == "stop":
        stopping = asyncio.create_task(server.stop("going"))
    else:
        server.cast("late")
    await asyncio.sleep(1)  # in terminate now
    assert not server.alive
    with pytest.raises(NoProcess) as caught:
        await server.call("ping")
    if how == "stop":
        assert caught.value.reason == "going"
    else:
        assert isinstance(caught.value.reason, Boom)
    done.set()
    await exited(server)
    if how == "stop":
        await stopping
    assert caught.value.reason is server.exit_reason


async def test_a_crash_mid_call_fails_that_call_at_once_with_the_exception_as_reason() -> None:
    server = await Echo.start()
    with pytest.raises(NoProcess) as caught:
        await server.call(("crash", 1), timeout=30)
    assert now() == 1  # at once, not after the call timeout
    assert isinstance(caught.value.reason, Boom)
    assert caught.value.reason is server.exit_reason


async def test_a_crash_fails_every_queued_call_too() -> None:
    server = await Echo.start()
    calls = [asyncio.create_task(server.call(("crash", 1), timeout=30))]
    await asyncio.sleep(0)
    calls += [asyncio.create_task(server.call(n, timeout=30)) for n in range(3)]
    await asyncio.wait(calls, timeout=10)
    assert now() == 1
    reasons = []
    for call in calls:
        error = call.exception()
        assert isinstance(error, NoProcess)
        reasons.append(error.reason)
    assert all(reason is server.exit_reason for reason in reasons)
    assert isinstance(server.exit_reason, Boom)


class Deferring(GenServer):
    """Answers "wait" calls later, from a cast."""

    async def init(self) -> None:
        self.pending: list[Caller] = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "wait":
            self.pending.append(caller)
            return NOREPLY
        if request == "pending":
            return [(c.task, c.waiting) for c in self.pending]
        return request

    async def handle_cast(self, msg: Any) -> None:
        if msg == "release":
            for caller in self.pending:
                caller.reply("released")
            self.pending.clear()
        elif msg == "crash":
            raise Boom("crashed with callers waiting")


async def test_noreply_defers_the_answer_until_caller_reply() -> None:
    assert isinstance(NOREPLY, NoReply)
    server = await Deferring.start()
    waiting = asyncio.create_task(server.call("wait"))
    await asyncio.sleep(0)  # the call task posts its request
    assert await server.call("pending") == [(waiting, True)]  # caller.task is the caller
    assert not waiting.done()
    server.cast("release")
    assert await waiting == "released"
    await server.stop()


async def test_a_deferred_caller_fails_at_once_when_the_server_dies() -> None:
    server = await Deferring.start()
    waiting = asyncio.create_task(server.call("wait", timeout=30))
    await asyncio.sleep(0)  # the call task posts its request
    server.cast("crash")
    with pytest.raises(NoProcess) as caught:
        await waiting
    assert now() == 0
    assert isinstance(caught.value.reason, Boom)


async def test_a_deferred_caller_fails_when_the_server_is_stopped() -> None:
    server = await Deferring.start()
    waiting = asyncio.create_task(server.call("wait", timeout=30))
    await asyncio.sleep(0)  # the call task posts its request
    await server.stop(SHUTDOWN)
    with pytest.raises(NoProcess) as caught:
        await waiting
    assert caught.value.reason == SHUTDOWN
    assert now() == 0


async def test_replying_to_a_caller_that_timed_out_is_dropped() -> None:
    server = await Deferring.start()
    with pytest.raises(CallTimeout):
        await server.call("wait", timeout=1)
    [(_, waiting)] = await server.call("pending")
    assert waiting is False
    server.cast("release")  # replies to the gone caller: nothing happens
    assert await server.call("still alive") == "still alive"
    await server.stop()


class Reentrant(GenServer):
    async def handle_call(self, request: Any, caller: Caller) -> Any:
        try:
            if request == "call myself":
                await self.call("inner", timeout=1)
            elif request == "call my via name":
                assert isinstance(self.name, tuple)
                await self.name.call("inner", timeout=1)
            elif request == "stop myself":
                await self.stop(timeout=1)
            else:
                return request
        except CallingSelf as error:
            return error
        return "no error"


@pytest.mark.parametrize("request_", ["call myself", "call my via name", "stop myself"])
async def test_calling_or_stopping_itself_raises_calling_self_instead_of_deadlocking(
    request_: str,
) -> None:
    server = await Reentrant.start(name=via(Registry(), "me"))
    result = await server.call(request_, timeout=10)
    assert isinstance(result, CallingSelf)
    assert isinstance(result, RuntimeError)
    assert now() == 0
    assert await server.call("still works") == "still works"
    await server.stop()


# Stopping and terminate


async def test_stop_runs_terminate_with_the_reason_and_sets_exit_reason() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated, name="echo")
    await server.stop(Shutdown("maintenance"))
    assert terminated == [Shutdown("maintenance")]
    assert server.exit_reason == Shutdown("maintenance")
    assert not server.alive
    assert whereis("echo") is None


async def test_stop_defaults_to_the_normal_reason() -> None:
    server = await Echo.start()
    await server.stop()
    assert server.exit_reason == NORMAL


async def test_stop_of_an_exited_process_raises_no_process() -> None:
    server = await Echo.start()
    await server.stop()
    with pytest.raises(NoProcess):
        await server.stop()


async def test_stop_lets_the_current_message_finish_and_fails_the_queued_calls() -> None:
    server = await Echo.start()
    current = asyncio.create_task(server.call(("sleep", 5, "finished"), timeout=30))
    await asyncio.sleep(0)
    queued = asyncio.create_task(server.call("queued", timeout=30))
    await asyncio.sleep(0)
    await server.stop()
    assert now() == 5
    assert await current == "finished"
    with pytest.raises(NoProcess):
        await queued


async def test_stop_with_a_timeout_raises_call_timeout_if_the_process_does_not_exit() -> None:
    server = await Echo.start()
    server.cast(("block", 100))
    await asyncio.sleep(1)  # the cast is now the current message
    with pytest.raises(CallTimeout):
        await server.stop(timeout=1)
    assert now() == 2
    await server.stop()  # a second stop waits for the first one's exit
    assert now() == 100  # the cast began at 0 and blocked for 100
    assert server.exit_reason == NORMAL


async def test_a_process_asked_to_stop_is_stopping_still_alive_and_takes_no_new_work() -> None:
    server = await Echo.start()
    server.cast(("block", 10))
    await asyncio.sleep(1)  # the cast is now the current message
    stopping = asyncio.create_task(server.stop(Shutdown("later")))
    await asyncio.sleep(0)
    assert server.alive  # it still takes messages (queued calls fail when it exits)
    assert not server._otp_accepting()  # but a supervisor starts no children for it
    assert repr(server).endswith(" stopping>")
    await stopping
    assert now() == 10
    assert repr(server).endswith(" exited>")
    assert server.exit_reason == Shutdown("later")


async def test_a_kill_makes_the_process_stopping_at_once() -> None:
    server = await Echo.start()
    server._otp_kill()
    assert server.alive
    assert not server._otp_accepting()
    assert repr(server).endswith(" stopping>")
    assert await server.wait_exit()
    assert server.exit_reason == KILLED


async def test_a_stop_asked_for_during_init_stops_the_process_once_init_returns() -> None:
    release = asyncio.Event()
    terminated: list[object] = []

    class SlowInit(GenServer):
        async def init(self) -> None:
            await release.wait()

        async def terminate(self, reason: object) -> None:
            terminated.append(reason)

    starting = asyncio.create_task(SlowInit.start(name="slow"))
    await asyncio.sleep(0)
    process = whereis("slow")
    assert process is not None
    stopping = asyncio.create_task(process.stop(SHUTDOWN))
    await asyncio.sleep(0)
    assert repr(process).endswith(" stopping>")
    release.set()
    assert await starting is process
    await stopping
    assert terminated == [SHUTDOWN]
    assert process.exit_reason == SHUTDOWN


async def test_stop_with_reason_none_stops_the_process() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    try:
        async with asyncio.timeout(60):
            await server.stop(None)
    finally:
        if server.alive:
            await server.stop()
    assert terminated == [None]
    assert not server.alive


async def test_stop_with_reason_killed_still_lets_terminate_finish() -> None:
    steps: list[str] = []

    class Slow(GenServer):
        async def terminate(self, reason: object) -> None:
            steps.append("terminate began")
            await asyncio.sleep(0)
            steps.append("terminate finished")

    server = await Slow.start()
    await server.stop(KILLED)
    assert steps == ["terminate began", "terminate finished"]
    assert server.exit_reason == KILLED


@pytest.mark.parametrize("via_", ["handle_cast", "handle_info"])
async def test_stop_returned_from_a_handler_stops_with_its_reason(via_: str) -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    if via_ == "handle_cast":
        server.cast(("stop", "bye"))
    else:
        server.send(("stop", "bye"))
    await exited(server)
    assert terminated == ["bye"]
    assert server.exit_reason == "bye"


async def test_stop_returned_from_handle_call_fails_the_caller_with_no_process() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    with pytest.raises(NoProcess) as caught:
        await server.call(("stop", "no reply"))
    assert caught.value.reason == "no reply"
    assert terminated == ["no reply"]
    assert server.exit_reason == "no reply"


async def test_reply_then_stop_answers_the_caller_and_then_stops() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    assert await server.call(("reply-stop", "goodbye", "done")) == "goodbye"
    await exited(server)
    assert terminated == ["done"]
    assert server.exit_reason == "done"


async def test_terminate_runs_on_a_crash_with_the_exception_as_reason() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    server.cast("crash")
    await exited(server)
    [reason] = terminated
    assert isinstance(reason, Boom)
    assert server.exit_reason is reason


async def test_terminate_runs_with_killed_when_the_process_task_is_cancelled() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    task = server._otp_task
    assert task is not None
    task.cancel()
    await exited(server)
    assert terminated == [KILLED]
    assert server.exit_reason == KILLED
    assert not server.alive


async def test_terminate_runs_when_cancelled_in_the_middle_of_a_handler() -> None:
    terminated: list[object] = []
    server = await Echo.start(terminated=terminated)
    call = asyncio.create_task(server.call(("sleep", 100, "never"), timeout=1000))
    await asyncio.sleep(1)
    assert server._otp_task is not None
    server._otp_task.cancel()
    with pytest.raises(NoProcess) as caught:
        await call
    assert caught.value.reason == KILLED
    assert terminated == [KILLED]
    assert now() == 1


async def test_terminate_raising_is_logged_and_the_process_still_exits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BadTerminate(GenServer):
        async def terminate(self, reason: object) -> None:
            raise Boom("terminate failed")

    server = await BadTerminate.start(name="bad-terminate")
    await server.stop()
    assert server.exit_reason == NORMAL
    assert whereis("bad-terminate") is None
    [record] = [r for r in caplog.records if "terminate" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], Boom)


class BadReturn(GenServer):
    """Each callback returns 42 (not None, Continue or Stop) when asked to."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return Reply("ok", 42)  # type: ignore[arg-type]

    async def handle_cast(self, msg: Any) -> Any:
        return Continue("go") if msg == "continue" else 42

    async def handle_info(self, msg: Any) -> Any:
        return 42

    async def handle_continue(self, arg: Any) -> Any:
        return 42


@pytest.mark.parametrize("callback", ["handle_cast", "handle_info", "handle_continue", "Reply"])
async def test_a_callback_returning_a_bad_value_crashes_with_a_type_error_naming_it(
    callback: str,
) -> None:
    server = await BadReturn.start()
    if callback == "handle_cast":
        server.cast("bad")
    elif callback == "handle_info":
        server.send("bad")
    elif callback == "handle_continue":
        server.cast("continue")
    else:
        assert await server.call("bad") == "ok"
    await exited(server)
    error = server.exit_reason
    assert isinstance(error, TypeError)
    assert "42" in str(error)
    assert "BadReturn" in str(error)


# Ordering and the mailbox


class Journal(GenServer):
    """Logs every message; each handler yields to the loop so interleaving would show."""

    async def init(self) -> None:
        self.entries: list[object] = []
        self.active = 0
        self.max_active = 0

    async def _handle(self, entry: object) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.entries.append(entry)
        self.active -= 1

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "entries":
            return list(self.entries), self.max_active
        await self._handle(("call", request))
        return request

    async def handle_cast(self, msg: Any) -> None:
        await self._handle(("cast", msg))

    async def handle_info(self, msg: Any) -> None:
        await self._handle(("info", msg))


async def test_messages_are_handled_one_at_a_time_in_arrival_order() -> None:
    server = await Journal.start()
    calls = []
    for n in range(0, 30, 3):
        server.cast(n)
        calls.append(asyncio.create_task(server.call(n + 1)))
        await asyncio.sleep(0)  # the call task posts its request now
        server.send(n + 2)
    assert await asyncio.gather(*calls) == list(range(1, 30, 3))
    entries, max_active = await server.call("entries")
    kinds = ("cast", "call", "info")
    assert entries == [(kinds[n % 3], n) for n in range(30)]
    assert max_active == 1
    await server.stop()


class Sink(GenServer):
    """Counts casts; samples the mailbox's length as it goes."""

    async def init(self) -> None:
        self.seen: list[int] = []
        self.sizes: list[int] = []

    async def handle_cast(self, n: int) -> None:
        self.seen.append(n)
        if n % 10_000 == 0:
            self.sizes.append(len(self._otp_inbox or ()))

    async def handle_call(self, request: Any, caller: Caller) -> int:
        return len(self.seen)


async def test_a_huge_mailbox_is_processed_in_order_and_shrinks_as_it_drains() -> None:
    total = 200_000
    server = await Sink.start()
    for n in range(total):
        server.cast(n)
    assert await server.call("count", timeout=120) == total
    assert server.seen == list(range(total))
    # When n=190,000 is handled 10,001 messages are left. A mailbox that kept the handled
    # entries (a list read from an index) would still hold all 200,001; this one holds
    # no more than a small multiple of the rest.
    assert server.sizes[0] >= total
    assert server.sizes[-1] <= 4 * 10_001
    assert server.sizes == sorted(server.sizes, reverse=True)
    await server.stop()


class Relay(GenServer):
    """Keeps its mailbox non-empty: each cast posts the next one behind a fixed backlog."""

    async def init(self, limit: int) -> None:
        self.limit = limit
        self.handled = 0
        self.largest = 0

    async def handle_cast(self, n: int) -> None:
        self.handled += 1
        self.largest = max(self.largest, len(self._otp_inbox or ()))
        if n < self.limit:
            self.cast(n + 100)

    async def handle_call(self, request: Any, caller: Caller) -> tuple[int, int]:
        return self.handled, self.largest


async def test_a_mailbox_that_never_empties_does_not_keep_growing() -> None:
    server = await Relay.start(200_000)
    for n in range(100):  # a backlog of 100 that is refilled as it drains
        server.cast(n)
    await asyncio.sleep(0)
    handled, largest = await server.call("stats", timeout=120)
    assert handled >= 200_000
    assert largest < 20_000  # keeping handled entries, it would reach ~200,000
    await server.stop()


async def test_cast_and_send_to_a_dead_process_are_dropped_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await Echo.start()
    await server.stop()
    caplog.clear()
    server.cast("into the void")
    server.send("into the void")
    assert server.log == []
    assert caplog.records == []


# Monitors and timers


class Watcher(GenServer):
    """Monitors on request and records every Down it receives."""

    async def init(self) -> None:
        self.downs: list[Down] = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        op, arg = request
        if op == "monitor":
            return self.monitor(arg)
        if op == "demonitor":
            self.demonitor(arg)
            return None
        return list(self.downs)  # "downs": also a barrier behind earlier messages

    async def handle_info(self, msg: Any) -> None:
        assert type(msg) is Down
        self.downs.append(msg)


async def test_monitor_delivers_down_with_the_exit_reason_of_a_process() -> None:
    watcher = await Watcher.start()
    target = await Echo.start()
    ref = await watcher.call(("monitor", target))
    target.cast("crash")
    await exited(target)
    [down] = await watcher.call(("downs", None))
    assert down == Down(target, target.exit_reason, ref)
    assert isinstance(down.reason, Boom)
    await watcher.stop()


async def test_monitor_of_an_already_dead_process_delivers_down_at_once() -> None:
    watcher = await Watcher.start()
    target = await Echo.start()
    await target.stop(SHUTDOWN)
    ref = await watcher.call(("monitor", target))
    assert await watcher.call(("downs", None)) == [Down(target, SHUTDOWN, ref)]
    await watcher.stop()


async def test_two_monitors_on_one_process_each_deliver_a_down() -> None:
    watcher = await Watcher.start()
    target = await Echo.start()
    first = await watcher.call(("monitor", target))
    second = await watcher.call(("monitor", target))
    await target.stop()
    downs = await watcher.call(("downs", None))
    assert [d.monitor for d in downs] == [first, second]
    assert all(d.reason == NORMAL for d in downs)
    await watcher.stop()


async def test_demonitor_of_a_process_stops_the_down() -> None:
    watcher = await Watcher.start()
    target = await Echo.start()
    ref = await watcher.call(("monitor", target))
    kept = await watcher.call(("monitor", target))
    await watcher.call(("demonitor", ref))
    await target.stop()
    assert [d.monitor for d in await watcher.call(("downs", None))] == [kept]
    await watcher.stop()


@pytest.mark.parametrize("outcome", ["raises", "returns", "cancelled"])
async def test_monitor_of_a_task_delivers_its_exception_normal_or_killed(outcome: str) -> None:
    error = Boom("task failed")

    async def job() -> str:
        await asyncio.sleep(1)
        if outcome == "raises":
            raise error
        return "result"

    watcher = await Watcher.start()
    task = asyncio.create_task(job())
    ref = await watcher.call(("monitor", task))
    if outcome == "cancelled":
        task.cancel()
    await asyncio.wait((task,))
    await asyncio.sleep(0)
    expected = {"raises": error, "returns": NORMAL, "cancelled": KILLED}[outcome]
    assert await watcher.call(("downs", None)) == [Down(task, expected, ref)]
    await watcher.stop()


async def test_demonitor_of_a_task_stops_the_down() -> None:
    watcher = await Watcher.start()
    task = asyncio.create_task(asyncio.sleep(1))
    ref = await watcher.call(("monitor", task))
    await watcher.call(("demonitor", ref))
    await task
    await asyncio.sleep(0)
    assert await watcher.call(("downs", None)) == []
    await watcher.stop()


async def test_send_after_delivers_the_message_once_the_delay_has_passed() -> None:
    server = await Echo.start()
    server.send_after("tick", 10)
    await asyncio.sleep(9.5)
    assert await server.call("log") == []
    await asyncio.sleep(1)
    assert await server.call("log") == [("info", "tick")]
    await server.stop()


async def test_send_after_can_be_cancelled() -> None:
    server = await Echo.start()
    timer = server.send_after("tick", 10)
    await asyncio.sleep(5)
    timer.cancel()
    await asyncio.sleep(100)
    assert await server.call("log") == []
    await server.stop()


# Logging


async def test_the_default_handle_info_logs_an_unexpected_message_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Quiet(GenServer):
        async def handle_call(self, request: Any, caller: Caller) -> Any:
            return request

    server = await Quiet.start()
    server.send("surprise")
    assert await server.call("ping") == "ping"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "unexpected message 'surprise'" in record.getMessage()
    await server.stop()


async def test_a_crash_is_logged_with_the_process_reason_and_last_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await Echo.start(name="crashy")
    server.cast("crash")
    await exited(server)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    message = record.getMessage()
    assert "'crashy'" in message
    assert repr(server.exit_reason) in message
    assert "last message: cast 'crash'" in message
    assert record.exc_info is not None
    assert record.exc_info[1] is server.exit_reason


async def test_a_crash_report_of_a_named_process_carries_its_id_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await Echo.start(name="crashy")
    server.cast("crash")
    await exited(server)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "'crashy'" in record.getMessage()
    assert hex(id(server)) in record.getMessage()


@pytest.mark.parametrize("reason", [NORMAL, SHUTDOWN, Shutdown("detail"), KILLED])
async def test_an_orderly_exit_or_a_kill_logs_no_crash_report(
    reason: object, caplog: pytest.LogCaptureFixture
) -> None:
    server = await Echo.start()
    if reason == KILLED:
        assert server._otp_task is not None
        server._otp_task.cancel()
        await exited(server)
    else:
        await server.stop(reason)
    assert server.exit_reason == reason
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_is_normal_only_for_normal_shutdown_and_shutdown_with_a_detail() -> None:
    assert is_normal(NORMAL)
    assert is_normal(SHUTDOWN)
    assert is_normal(Shutdown({"any": "detail"}))
    assert not is_normal(KILLED)
    assert not is_normal(Boom())
    assert not is_normal("other")
    assert not is_normal(None)


async def test_caller_fail_raises_the_error_in_the_caller_and_the_server_goes_on() -> None:
    class Lookup(GenServer):
        async def init(self) -> None:
            self.table = {"a": 1}

        async def handle_call(self, request: str, caller: Caller) -> object:
            if request not in self.table:
                caller.fail(KeyError(request))
                return NOREPLY
            return self.table[request]

    server = await Lookup.start()
    try:
        with pytest.raises(KeyError, match="'missing'"):
            await server.call("missing")
        assert await server.call("a") == 1
        assert server.alive
    finally:
        await server.stop()


async def test_a_subclass_may_use_the_private_names_any_class_would() -> None:
    # The kernel's own fields and helpers are all `_otp_` names: a user's `self._state`
    # or `_run` cannot overwrite them.
    class Own(GenServer):
        async def init(self) -> None:
            self._state = {"hits": 0}
            self._name = "mine"
            self._task = None
            self._loop = None
            self._timers: list[object] = []
            self._inbox: list[object] = []

        async def handle_call(self, request: Any, caller: Any) -> Any:
            return self._run(request)

        def _run(self, request: object) -> tuple[object, int, str]:
            self._state["hits"] += 1
            return (request, self._state["hits"], self._name)

        def _exit(self) -> None:
            raise AssertionError("the kernel called the subclass's _exit")

        def _kill(self) -> None:
            raise AssertionError("the kernel called the subclass's _kill")

    server = await Own.start(name="own-private-names")
    assert await server.call("x") == ("x", 1, "mine")
    assert await server.call("y") == ("y", 2, "mine")
    assert whereis("own-private-names") is server
    await server.stop()
    assert server.exit_reason == NORMAL
    assert whereis("own-private-names") is None


async def test_a_subclass_may_name_its_own_helpers_call_and_stop() -> None:
    class Own(GenServer):
        async def handle_call(self, request: Any, caller: Any) -> Any:
            return self._call(request)

        def _call(self, request: object) -> str:
            return f"own {request}"

        async def _stop(self) -> None:
            await self.stop()

    server = await Own.start()
    assert await server.call("x") == "own x"
    await server.stop()
    assert server.exit_reason == NORMAL


async def test_a_start_cancelled_during_init_leaves_no_error_unretrieved() -> None:
    import gc

    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))

    class Slow(GenServer):
        async def init(self) -> None:
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    try:
        starter = asyncio.create_task(Slow.start())
        await asyncio.sleep(0)  # the starter waits; init has begun
        starter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starter
        del starter
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert reported == []


class CountingLoop(asyncio.SelectorEventLoop):
    """A loop class with its own futures and clock, as uvloop or a test clock has."""

    def __init__(self) -> None:
        super().__init__()
        self.futures = 0
        self.clock_reads = 0

    def create_future(self) -> asyncio.Future[Any]:
        self.futures += 1
        return super().create_future()

    def time(self) -> float:
        self.clock_reads += 1
        return super().time()


def test_a_loop_class_with_its_own_futures_and_clock_is_asked_for_them() -> None:
    # The kernel makes futures and reads the clock itself only on asyncio's own loop
    # classes; on any other it must go through the loop's methods.
    loop = CountingLoop()

    async def main() -> tuple[int, int]:
        server = await Echo.start()
        futures, reads = loop.futures, loop.clock_reads
        assert await server.call("hello", timeout=5.0) == "hello"
        made, read = loop.futures - futures, loop.clock_reads - reads
        await server.stop()
        return made, read

    try:
        made, read = loop.run_until_complete(main())
    finally:
        loop.close()
    assert made >= 1  # the call's reply future
    assert read >= 1  # its deadline
