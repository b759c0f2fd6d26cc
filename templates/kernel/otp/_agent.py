"""Agent: a process that holds one value, read and changed through functions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Generic, Self, TypeVar

from ._genserver import GenServer
from ._messages import Caller

S = TypeVar("S")
T = TypeVar("T")

_GET = 0
_UPDATE = 1
_GET_AND_UPDATE = 2


class Agent(GenServer, Generic[S]):
    """A process holding one value of type S, changed only through functions.

    Use it for simple shared state that only needs get and update, such as a counter
    or a small config map that several tasks change. The functions run inside the agent,
    one at a time, so updates never interleave. Do not use it when you need monitors,
    timers or messages (write a GenServer), or for read-heavy lookups (an ETS-style
    table: a dict read without a process, like the cache pattern).

        counter: Agent[int] = await Agent.start(lambda: 0, name="counter")
        await counter.update(lambda n: n + 1)
        await counter.get(lambda n: n)        # -> 1

    Keep the functions quick and free of I/O: the agent handles nothing else meanwhile.
    """

    __slots__ = ("_value",)

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Self:
        """`Agent.start(initial, name=None)`: `initial()` gives the first value."""
        return await super().start(*args, **kwargs)

    # Client API

    # These return the call's coroutine to await (a plain `def`, so that no linter's
    # "async function with a timeout parameter" rule applies).

    def get(self, fn: Callable[[S], T], timeout: float | None = 5.0) -> Coroutine[Any, Any, T]:
        """Return `fn(value)`, computed inside the agent."""
        return self.call((_GET, fn), timeout)

    def update(
        self, fn: Callable[[S], S], timeout: float | None = 5.0
    ) -> Coroutine[Any, Any, None]:
        """Replace the value with `fn(value)` and wait until it is done."""
        return self.call((_UPDATE, fn), timeout)

    def get_and_update(
        self,
        fn: Callable[[S], tuple[T, S]],
        timeout: float | None = 5.0,
    ) -> Coroutine[Any, Any, T]:
        """`fn(value)` gives (result, new value): keep the new value, return result."""
        return self.call((_GET_AND_UPDATE, fn), timeout)

    def cast(self, fn: Callable[[S], S]) -> None:
        """Replace the value with `fn(value)` without waiting."""
        super().cast(fn)

    # Server callbacks

    async def init(self, initial: Callable[[], S]) -> None:
        if not callable(initial):
            raise TypeError(f"Agent.start() needs a function returning the state, got: {initial!r}")
        self._value: S = initial()

    async def handle_call(self, request: tuple[int, Callable[[S], Any]], caller: Caller) -> Any:
        op, fn = request
        if op == _GET:
            return fn(self._value)
        if op == _UPDATE:
            self._value = fn(self._value)
            return None
        result, self._value = fn(self._value)
        return result

    async def handle_cast(self, msg: Callable[[S], S]) -> None:
        self._value = msg(self._value)
