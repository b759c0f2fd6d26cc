"""The kernel's exceptions: one base class, one precise subclass per failure."""

from __future__ import annotations

from math import isnan
from typing import Any


class OTPError(Exception):
    """Base class of every error the kernel raises."""


class NoProcess(OTPError):
    """The process is not alive: never existed, already exited, or exited during a call.

    `reason` is the exit reason when it is known (an exception for a crash), else None.
    """

    def __init__(self, message: str, reason: object = None) -> None:
        super().__init__(message)
        self.reason = reason


class CallTimeout(OTPError, TimeoutError):
    """A call got no reply within its timeout. The late reply, if any, is discarded."""


class CallingSelf(OTPError, RuntimeError):
    """A process called (or stopped) itself, which could only deadlock."""


class AlreadyStarted(OTPError):
    """The name or unique registry key is taken; `process` is the one holding it."""

    def __init__(self, key: object, process: Any) -> None:
        super().__init__(f"{key!r} is already registered to {process!r}")
        self.key = key
        self.process = process


class ChildSpecError(OTPError, ValueError, TypeError):
    """A child specification or supervisor option is invalid: a wrong value or a wrong
    type, so it is both a ValueError and a TypeError."""


class StartChildError(OTPError):
    """A supervisor could not start a child; `reason` is what its start raised."""

    def __init__(self, child_id: object, reason: BaseException) -> None:
        super().__init__(f"child {child_id!r} failed to start: {reason!r}")
        self.child_id = child_id
        self.reason = reason


class ChildNotFound(OTPError, LookupError):
    """No child with that id (or process) is known to the supervisor."""


class ChildRunning(OTPError):
    """The operation needs the child to be stopped, but it is running."""


class ChildRestarting(OTPError):
    """The child's restart failed and is retried: it can be neither restarted nor
    deleted now (OTP's `{error, restarting}`); `terminate_child` cancels the retry
    first."""


class AlreadyPresent(OTPError):
    """A child spec with that id exists (stopped); restart or delete it first."""


class MaxChildren(OTPError):
    """The supervisor already has `max_children` children (restarting ones count)."""


def check_seconds(what: str, value: object, *, none: bool = True) -> None:
    """Raise TypeError unless `value` is a number of seconds (or None, if `none`), and
    ValueError for NaN, naming `what` in one line."""
    if value is None and none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(_bad_seconds(what, value, none=none))
    if isnan(value):
        raise ValueError(_bad_seconds(what, value, none=none))


def _bad_seconds(what: str, value: object, *, none: bool = True) -> str:
    expected = "seconds (an int or float) or None" if none else "seconds (an int or float)"
    return f"{what} must be {expected}, got: {value!r}"
