"""A process's mailbox: the messages it has not handled yet, in arrival order.

A mailbox is a deque while it holds messages, and None while the process is idle: an
empty deque is about 600 bytes, which every idle process would carry. The owning
process awaits `_otp_waiter` when the mailbox is empty, in its own frame, and a delivery
sets it; it takes messages in its own frame too (`GenServer._otp_run` inlines the take:
it runs for every message), and drops the empty deque before it waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Final, TypeAlias

if TYPE_CHECKING:
    from ._messages import Caller

# A call's entry is its Caller (which holds the request: one object per call, not
# two); a cast's or a plain message's is a (kind, payload, token) tuple, whose token is
# None, or for a cast the token of an instrumentation hook (see _instrument). The kinds
# number the callbacks: _CALL is what a Caller stands for.
_CALL: Final = 0
_CAST: Final = 1
_INFO: Final = 2

Message: TypeAlias = "Caller | tuple[int, Any, Any]"


class Mailbox:
    """The mailbox part of a process, as a base class: no object of its own per process.

    Its attributes are the process's own: a subclass must not reuse these names.
    """

    __slots__ = ("_otp_inbox", "_otp_waiter")

    def __init__(self) -> None:
        self._otp_inbox: deque[Message] | None = None
        self._otp_waiter: asyncio.Future[None] | None = None

    def _otp_deliver(self, msg: Message) -> None:
        """Append `msg` and wake the process if it waits for one."""
        inbox = self._otp_inbox
        if inbox is None:
            self._otp_inbox = deque((msg,))
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

    def _otp_close(self) -> list[Message]:
        """Empty the mailbox for good (the process exits) and return what it held."""
        inbox = self._otp_inbox
        self._otp_inbox, self._otp_waiter = None, None
        return list(inbox) if inbox else []
