"""otpgen's cache: formatted renders and compiled templates, keyed by content.

Everything in it can be rebuilt, so every failure to read or write it is ignored.
`OTPGEN_CACHE_DIR` moves it; `OTPGEN_NO_CACHE=1` turns it off.
"""

import contextlib
import functools
import hashlib
import os
from pathlib import Path


def cache_dir() -> Path | None:
    """The cache directory, or None when caching is off."""
    return _cache_dir(
        os.environ.get("OTPGEN_NO_CACHE", ""),
        os.environ.get("OTPGEN_CACHE_DIR", ""),
        os.environ.get("XDG_CACHE_HOME", ""),
        os.environ.get("HOME", ""),
    )


@functools.cache
def _cache_dir(off: str, explicit: str, xdg: str, home: str) -> Path | None:
    # Memoised on the variables it reads (HOME: Path.home()'s first choice), since
    # Path.home() looks the user up every time.
    if off:
        return None
    if explicit:
        return Path(explicit)
    return Path(xdg or Path.home() / ".cache") / "otpgen"


def key(*parts: bytes | str) -> str:
    """A content key over `parts`."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def read(section: str, name: str) -> str | None:
    """The cached text under `name`, if any."""
    data = read_binary(section, name)
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_binary(section: str, name: str) -> bytes | None:
    """The cached bytes under `name`, if any."""
    root = cache_dir()
    if root is None:
        return None
    try:
        return (root / section / name[:2] / name).read_bytes()
    except OSError:
        return None


def write(section: str, name: str, text: str) -> None:
    """Cache `text` under `name`, atomically; silently skipped if the cache is unwritable."""
    write_binary(section, name, text.encode("utf-8"))


def write_binary(section: str, name: str, data: bytes) -> None:
    """Cache `data` under `name`, atomically; silently skipped if the cache is unwritable."""
    root = cache_dir()
    if root is None:
        return
    target = root / section / name[:2] / name
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f"{name}.{os.getpid()}.tmp")
        staged.write_bytes(data)
        os.replace(staged, target)
