"""Crash reports that stay cheap and readable while a child crashes in a loop, and the
structured fields every report of the kernel carries.

A child that crashes on every start (a bad setting, a server that is down) is restarted
until its supervisor's intensity runs out. Formatting the same traceback for each of
those crashes costs several times the restart itself, and buries the first report, the
one worth reading, under copies. So the first crash of a kind (the same exception type
raised at the same line) carries its traceback; the same crash again within
`REPEAT_WINDOW` seconds is reported in one line that says how many came before it. A
crash of another kind, or the same one after a quiet window, gets its traceback again.
"""

from __future__ import annotations

import time
from typing import Any, Final

REPEAT_WINDOW: Final = 10.0
"""Seconds after a full report in which the same crash is reported in one line."""

_MAX_KINDS: Final = 256  # kinds remembered at once; the oldest is forgotten first

# kind -> (when its last full report was made, repeats reported in one line since)
_seen: dict[tuple[type[BaseException], str, int], tuple[float, int]] = {}


def traceback_or_repeat(reason: BaseException) -> tuple[BaseException | None, str]:
    """The `exc_info` a crash report gets, and a note for the report's message.

    `(reason, "")` for a crash to report in full; `(None, note)` for a repeat, where
    the note says how many times it came since its full report.
    """
    tb = reason.__traceback__
    if tb is None:
        return reason, ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    kind = (type(reason), tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    now = time.monotonic()
    last = _seen.pop(kind, None)  # popped and put back: the dict stays in recency order
    if last is None or now - last[0] > REPEAT_WINDOW:
        _seen[kind] = (now, 0)
        if len(_seen) > _MAX_KINDS:
            del _seen[next(iter(_seen))]
        return reason, ""
    since, repeats = last[0], last[1] + 1
    _seen[kind] = (since, repeats)
    plural = "s" if repeats > 1 else ""
    return None, (
        f" (the same crash again, {repeats} repeat{plural} in the {now - since:.1f} s "
        "since "
        "the report that has its traceback)"
    )


def fields(process: object = None, child: object = None, reason: object = None) -> dict[str, Any]:
    """The `extra` of a kernel log record: the process (its registered name, else
    its repr), the child id and the exit reason, as strings. A JSON log formatter
    (see `run`, OTP_LOG_FORMAT=json) writes them as fields of their own; the text
    format leaves them out."""
    found: dict[str, Any] = {}
    if process is not None:
        name = getattr(process, "name", None)
        found["otp_process"] = name if isinstance(name, str) else repr(process)
    if child is not None:
        found["otp_child"] = str(child)
    if reason is not None:
        found["otp_reason"] = repr(reason)
    return found
