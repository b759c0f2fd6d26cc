"""One question on the terminal, read so that a Ctrl-C at any instant interrupts it.

`input()` (what click's prompts use) has a race: a SIGINT that arrives after Python last
ran its signal handlers but before the blocking read starts marks the handler pending, and
the read, not interrupted, waits for a line forever. otpgen then sat at its prompt after a
Ctrl-C (about one run in twelve in tests/test_cli_entry.py). Here the wait is a select() on
the terminal and on a signal wakeup fd: the signal's byte on that fd wakes it whenever the
signal came, and its handler runs as soon as control is back in Python.
"""

import os
import select
import signal
import sys

_pending = b""  # what the terminal sent after the last line returned (a paste of several)


def ask(text: str, default: str) -> str:
    """Print `text [default]: ` and return the line typed, or `default` for an empty one.

    The question goes to stderr, as every prompt of otpgen's: stdout stays for results.
    EOFError at the end of input (Ctrl-D), as `input()` raises.
    """
    sys.stderr.write(f"{text} [{default}]: ")
    sys.stderr.flush()
    return _read_line() or default


def _read_line() -> str:
    global _pending
    while b"\n" not in _pending:
        chunk = _wait_and_read(sys.stdin.fileno())
        if not chunk:
            if _pending:
                break
            raise EOFError
        _pending += chunk
    line, _, _pending = _pending.partition(b"\n")
    return line.decode(errors="replace").rstrip("\r")


def _wait_and_read(fd: int) -> bytes:
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous = signal.set_wakeup_fd(wake_write)
    try:
        while True:
            ready, _, _ = select.select([fd, wake_read], [], [])
            if fd in ready:
                return os.read(fd, 65536)
            os.read(wake_read, 512)  # a signal came: its handler has run by now, or runs next
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_read)
        os.close(wake_write)
