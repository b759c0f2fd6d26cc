"""Via: a process name that lives in a registry, `via(registry, key)`; and the kinds of
registry keys (only a UNIQUE registry names processes).

Its own module (imported by _genserver and _registry alike) so that a process can tell a
via name apart by its type; it needs nothing of a Registry but its methods.
"""

from __future__ import annotations

import enum
from collections.abc import Coroutine, Hashable
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ._errors import NoProcess

if TYPE_CHECKING:
    from ._genserver import GenServer
    from ._registry import Registry


class Keys(enum.Enum):
    """Whether a key names one process or many."""

    UNIQUE = "unique"
    """One process per key: names (`via`), get-or-start, one worker per user."""
    DUPLICATE = "duplicate"
    """Many processes per key: topics a process subscribes to (pub/sub)."""


UNIQUE: Final = Keys.UNIQUE
DUPLICATE: Final = Keys.DUPLICATE


class Via(NamedTuple):
    """A process name that lives in a registry: `via(registry, key)`.

    Pass it as `name=` when starting a process, and use it like the process itself:
    `await via(reg, user_id).call(request)`; it looks the process up on every use.
    """

    registry: Registry
    key: Hashable

    def __repr__(self) -> str:
        return f"via({getattr(self.registry, 'name', None) or 'registry'}, {self.key!r})"

    def whereis(self) -> GenServer | None:
        """The live process under this name, or None."""
        return self.registry.whereis(self.key)

    def _resolve(self) -> GenServer:
        process = self.registry.whereis(self.key)
        if process is None:
            raise NoProcess(f"no process registered under {self.key!r} in {self.registry!r}")
        return process

    def call(self, request: object, timeout: float | None = 5.0) -> Coroutine[Any, Any, Any]:
        """`call` the process registered under this name (NoProcess if none)."""
        return self._resolve().call(request, timeout)

    def cast(self, msg: object) -> None:
        """`cast` to the process under this name; dropped if there is none."""
        process = self.whereis()
        if process is not None:
            process.cast(msg)

    def send(self, msg: object) -> None:
        """`send` to the process under this name; dropped if there is none."""
        process = self.whereis()
        if process is not None:
            process.send(msg)

    def stop(
        self, reason: object = "normal", timeout: float | None = None
    ) -> Coroutine[Any, Any, None]:
        """Stop the process under this name (NoProcess if there is none)."""
        return self._resolve().stop(reason, timeout)


def via(registry: Registry, key: Hashable) -> Via:
    """Name a process by `key` in `registry` (as `name=`, or to call it)."""
    return _new_via(Via, (registry, key))  # Via(registry, key) without its __new__ frame


_new_via: Final = tuple.__new__
