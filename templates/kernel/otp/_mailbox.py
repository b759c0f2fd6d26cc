"""A process's mailbox: the messages it has not handled yet, in arrival order.

A mailbox is a list consumed from a head index (popping from the front of a list moves
every entry; a deque costs more memory per idle process), compacted when the consumed
prefix grows. The owning process awaits `_otp_waiter` when the mailbox is empty, in its
own frame, and a delivery sets it; it takes messages in its own frame too
(`GenServer._otp_run` inlines the take: it runs for every message).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final, TypeAlias

if TYPE_CHECKING:
    from ._messages import Caller

# Entries are (kind, payload, caller) tuples: caller is the Caller when kind is _CALL;
# else None, or for a cast the token of an instrumentation hook (see _instrument).
_CALL: Final = 0
_CAST: Final = 1
_INFO: Final = 2

Message: TypeAlias = "tuple[int, Any, Caller | Any]"

# The consumed prefix is dropped once it is this long and at least half the list.
_COMPACT_AT: Final = 4096


class Mailbox:
    """The mailbox part of a process, as a base class: no object of its own per process.

    Its attributes are the process's own: a subclass must not reuse these names.
    """

    __slots__ = ("_otp_head", "_otp_inbox", "_otp_waiter")

    def __init__(self) -> None:
        self._otp_inbox: list[Message | None] | None = None
        self._otp_head = 0
        self._otp_waiter: asyncio.Future[None] | None = None

    def _otp_deliver(self, msg: Message) -> None:
        """Append `msg` and wake the process if it waits for one."""
        inbox = self._otp_inbox
        if inbox is None:
            self._otp_inbox = [msg]
        else:
            inbox.append(msg)
        self._otp_wake()

    def _otp_wake(self) -> None:
        """Wake the process if it waits for a message (to take one, or see a stop)."""
        waiter = self._otp_waiter
        if waiter is not None:
            self._otp_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _otp_close(self) -> list[Message | None]:
        """Empty the mailbox for good (the process exits) and return what it held."""
        inbox, head = self._otp_inbox, self._otp_head
        self._otp_inbox, self._otp_head, self._otp_waiter = None, 0, None
        return inbox[head:] if inbox else []
