"""A process's pending `send_after` timers (see `GenServer.send_after`)."""

from __future__ import annotations

import asyncio


class _Timers:
    """A process's `send_after` timers that may be pending, to cancel when it exits.

    Fired and cancelled timers are swept out once the list has doubled since the last
    sweep, so a process that sets a new timer per message keeps only the pending ones.
    """

    __slots__ = ("_otp_sweep_at", "_otp_timers")

    def __init__(self, timer: asyncio.TimerHandle) -> None:
        self._otp_timers = [timer]
        self._otp_sweep_at = 8

    def add(self, timer: asyncio.TimerHandle, loop: asyncio.AbstractEventLoop) -> None:
        timers = self._otp_timers
        if len(timers) >= self._otp_sweep_at:
            now = loop.time()
            # A timer that is due has fired, or fires in this turn of the loop.
            timers[:] = [t for t in timers if not t.cancelled() and t.when() > now]
            self._otp_sweep_at = max(8, 2 * len(timers))
        timers.append(timer)

    def cancel(self) -> None:
        for timer in self._otp_timers:
            timer.cancel()
