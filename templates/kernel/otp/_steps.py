"""Stepping tasks: the running task, one turn of the loop, and a new task's first step
taken at once.

`GenServer.start` and `GenServer.call` need these on every start and every call, so they
read asyncio's own bookkeeping where Python 3.11 offers no cheap public way, and fall
back to the public one wherever that bookkeeping is missing or another loop runs.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, Final

# The calling task, looked up on every call. On Python 3.11 `asyncio.current_task` is a
# Python function that reads asyncio's table of running tasks per loop: reading the
# table directly saves a frame per call. From 3.12 `current_task` is C code, and is used
# as is.
_task_of: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]
if sys.version_info < (3, 12):
    _task_of = vars(asyncio.tasks)["_current_tasks"].get
else:
    _task_of = asyncio.current_task


@types.coroutine
def _next_turn() -> Generator[None, None, None]:
    """Let every other ready task run once (`asyncio.sleep(0)` without its frame)."""
    yield


def _step_now(loop: asyncio.AbstractEventLoop, ready: deque[asyncio.Handle], queued: int) -> bool:
    """Take the first step of the task just created on `loop` now, in the starting
    task's place, rather than on the loop's next turn. True if it was taken.

    This is Python 3.12's eager task start, done by hand so that every supported
    Python has it: `start` then returns without waiting for a turn of the loop when
    `init` does not suspend (about a third of the cost of starting a process), and
    the task has run, so a cancellation from then on kills it as it kills any running
    process. It needs asyncio's own loop, which queues a new task's first step as the
    last of `ready`, its `loop._ready` (`queued` is the queue's length before the task
    was made): with any other loop (see `_steps_like_asyncio`), or if anything else was
    queued meanwhile, nothing is done and the step comes on the next turn, as without
    it; so too inside `_MAX_NESTING` first steps already running one inside another.
    """
    global _nesting
    if len(ready) != queued + 1 or _nesting >= _MAX_NESTING:
        return False
    enter, leave = _enter_task, _leave_task
    # (else no loop steps like asyncio: see _steps_like_asyncio)
    assert enter is not None
    assert leave is not None
    handle = ready.pop()
    # The step runs as the new task (`current_task()` in `init` is the process), so
    # the starting task steps aside for it.
    current = _task_of(loop)
    if current is not None:
        leave(loop, current)
    _nesting += 1
    try:
        # handle._run() without its frame: the task's step handles every exception
        # itself but KeyboardInterrupt and SystemExit, which _run lets through too.
        handle._context.run(handle._callback, *handle._args)  # type: ignore[attr-defined]
    finally:
        _nesting -= 1
        if current is not None:
            enter(loop, current)
    return True


# How many first steps `_step_now` is running inside one another now, and how many it
# may (each holds a few frames of the stack). An `init` that starts a process whose
# `init` starts one... runs each step on the stack of the one before: past this depth,
# the loop takes the step, on a fresh stack.
_nesting = 0
_MAX_NESTING: Final = 20


def _steps_like_asyncio(cls: type[asyncio.AbstractEventLoop]) -> bool:
    """Whether `_step_now` can run on loops of class `cls`: asyncio's own loops and
    subclasses that keep their way of queueing callbacks and tasks."""
    base = asyncio.BaseEventLoop
    return (
        issubclass(cls, base)
        and cls.call_soon is base.call_soon
        and cls.create_task is base.create_task
        and _enter_task is not None
        and _leave_task is not None
    )


# Loop class -> whether `start` takes a new process's first step at once.
_EAGER_LOOPS: Final[dict[type[asyncio.AbstractEventLoop], bool]] = {}
# asyncio's own bookkeeping of the running task, which `_step_now` needs (in every
# Python from 3.7; if a later one drops it, starts wait for a turn of the loop again).
_enter_task: Final[Callable[[asyncio.AbstractEventLoop, asyncio.Task[Any]], None] | None] = getattr(
    asyncio.tasks, "_enter_task", None
)
_leave_task: Final[Callable[[asyncio.AbstractEventLoop, asyncio.Task[Any]], None] | None] = getattr(
    asyncio.tasks, "_leave_task", None
)
