"""Agent: a process that holds one value, read and changed through functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

from ._genserver import Caller, GenServer

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

    async def get(self, fn: Callable[[S], T], timeout: float | None = 5.0) -> T:  # noqa: ASYNC109
        """Return `fn(value)`, computed inside the agent."""
        result: T = await self.call((_GET, fn), timeout)
        return result

    async def update(self, fn: Callable[[S], S], timeout: float | None = 5.0) -> None:  # noqa: ASYNC109
        """Replace the value with `fn(value)` and wait until it is done."""
        await self.call((_UPDATE, fn), timeout)

    async def get_and_update(
        self,
        fn: Callable[[S], tuple[T, S]],
        timeout: float | None = 5.0,  # noqa: ASYNC109
    ) -> T:
        """`fn(value)` returns (result, new value): store the new value, return the result."""
        result: T = await self.call((_GET_AND_UPDATE, fn), timeout)
        return result

    def cast(self, fn: Callable[[S], S]) -> None:
        """Replace the value with `fn(value)` without waiting."""
        super().cast(fn)

    # Server callbacks

    async def init(self, initial: Callable[[], S]) -> None:
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
