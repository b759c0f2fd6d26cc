"""Registry: find processes by key instead of passing them around.

A registry is a plain table, not a process: registering and looking up are ordinary
function calls, and an entry disappears in the same step as its process exits.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from ._errors import AlreadyStarted, NoProcess
from ._genserver import _EXITING, GenServer
from ._via import UNIQUE, Keys


class Registry:
    """A table from keys to live processes, each with an optional value.

    With UNIQUE keys, `register` of a taken key raises AlreadyStarted carrying the
    holder, so "start it unless it runs" has no race: start with `name=via(reg, key)`
    and catch AlreadyStarted. With DUPLICATE keys a key holds many processes (each at
    most once) and `dispatch` reaches them all. Entries vanish when their process exits.

    Use it to find processes by a runtime key (a user id, a topic). Do not use it as a
    general key-value store: values are removed with their process.
    """

    __slots__ = ("_entries", "_values", "keys", "name")

    def __init__(self, keys: Keys = UNIQUE, name: str | None = None) -> None:
        if not isinstance(keys, Keys):
            raise TypeError(f"keys must be UNIQUE or DUPLICATE, got: {keys!r}")
        self.keys = keys
        self.name = name
        # UNIQUE: key -> process, values apart (most are None);
        # DUPLICATE: key -> {process: value}.
        self._entries: dict[Hashable, Any] = {}
        self._values: dict[Hashable, object] = {}

    def register(self, key: Hashable, process: GenServer, value: object = None) -> None:
        """Add `process` under `key`; it is removed again when the process exits.

        Raises AlreadyStarted (UNIQUE) if another process holds the key, and NoProcess
        if `process` is not alive. Registering the same process and key again replaces
        the value.
        """
        _check_process("register", process)
        if self._insert(key, process, value):
            regs = process._otp_regs
            if regs is None:
                process._otp_regs = [(self, key)]
            else:
                regs.append((self, key))

    def unregister(self, key: Hashable, process: GenServer) -> None:
        """Remove `process` from `key`; nothing happens if it is not there.

        As in Elixir, this removes a process's own `via(registry, key)` name too: the
        process runs on, no longer found under that name, and the key is free for
        another.
        """
        _check_process("unregister", process)
        if self._drop(key, process):
            regs = process._otp_regs
            if regs is not None and (self, key) in regs:  # absent for its `via` name
                regs.remove((self, key))

    def lookup(self, key: Hashable) -> list[tuple[GenServer, Any]]:
        """The (process, value) pairs under `key`: none, one (UNIQUE) or many."""
        held = self._entries.get(key)
        if held is None:
            return []
        if self.keys is UNIQUE:
            return [(held, self._values.get(key))]
        return list(held.items())

    def whereis(self, key: Hashable) -> GenServer | None:
        """The process under a UNIQUE `key`, or None."""
        if self.keys is not UNIQUE:
            raise TypeError("whereis() needs a UNIQUE registry; use lookup() for DUPLICATE")
        found: GenServer | None = self._entries.get(key)
        return found

    def dispatch(self, key: Hashable, fn: Callable[[list[tuple[GenServer, Any]]], None]) -> None:
        """Call `fn` with the entries under `key`, if any (pub/sub broadcast)."""
        entries = self.lookup(key)
        if entries:
            fn(entries)

    def count(self) -> int:
        """How many (key, process) entries the registry holds."""
        if self.keys is UNIQUE:
            return len(self._entries)
        return sum(len(group) for group in self._entries.values())

    def keys_of(self, process: GenServer) -> list[Hashable]:
        """The keys `process` is registered under here (none once it has exited)."""
        _check_process("keys_of", process)
        keys = [key for registry, key in process._otp_regs or () if registry is self]
        if process._otp_registry is self:
            # Its `via` name, unless it was unregistered or the process has exited.
            key = process._otp_name
            held = self._entries.get(key)
            if held is process or (type(held) is dict and process in held):
                keys.insert(0, key)
        return keys

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Registry{label} {self.keys.value} {self.count()} entries>"

    def _insert(self, key: Hashable, process: GenServer, value: object) -> bool:
        """Add the entry; False if it was there already (only its value changed)."""
        if process._otp_state >= _EXITING:  # (not process.alive, without its frame)
            raise NoProcess(f"cannot register {process!r}: it is not alive")
        entries = self._entries
        if self.keys is UNIQUE:
            held = entries.get(key)
            if held is not None and held is not process:
                raise AlreadyStarted(key, held)
            entries[key] = process
            if value is not None:
                self._values[key] = value
            else:
                self._values.pop(key, None)
            return held is None
        group = entries.get(key)
        if group is None:
            group = entries[key] = {}
        new = process not in group
        group[process] = value
        return new

    def _drop(self, key: Hashable, process: GenServer) -> bool:
        entries = self._entries
        held = entries.get(key)
        if held is None:
            return False
        if self.keys is UNIQUE:
            if held is not process:
                return False
            del entries[key]
            if self._values:
                self._values.pop(key, None)
            return True
        if process not in held:
            return False
        del held[process]
        if not held:
            del entries[key]
        return True


def _check_process(what: str, process: object) -> None:
    if not isinstance(process, GenServer):
        raise TypeError(f"Registry.{what}() needs a process (a GenServer), got: {process!r}")
