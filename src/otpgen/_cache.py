"""otpgen's cache: formatted renders and compiled templates, keyed by content.

Everything in it can be rebuilt, so every failure to read or write it is ignored.
`OTPGEN_CACHE_DIR` moves it; `OTPGEN_NO_CACHE=1` turns it off. It is bounded: at most once
an hour a write checks its size, and past `OTPGEN_CACHE_MAX_MB` (default 64) the entries
written longest ago go until it is under 80% of that. `otpgen cache clear` empties it.
"""

import contextlib
import functools
import hashlib
import os
import time
from pathlib import Path

DEFAULT_MAX_MB = 64.0
_PRUNE_EVERY = 3600.0  # seconds between two size checks
_MARKER = ".pruned"  # its mtime: when the size was last checked


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
        _maybe_prune(root)


def max_bytes() -> int:
    """The size bound: OTPGEN_CACHE_MAX_MB megabytes (default 64); a bad value is the
    default."""
    raw = os.environ.get("OTPGEN_CACHE_MAX_MB", "")
    try:
        megabytes = float(raw) if raw else DEFAULT_MAX_MB
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    if not megabytes >= 0:  # NaN too
        megabytes = DEFAULT_MAX_MB
    return int(megabytes * 1024 * 1024)


def _maybe_prune(root: Path) -> None:
    """Prune `root` if its size was last checked an hour ago or more (one stat a write)."""
    marker = root / _MARKER
    try:
        if time.time() - marker.stat().st_mtime < _PRUNE_EVERY:
            return
    except FileNotFoundError:
        pass
    marker.touch()
    prune(root, max_bytes())


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """Every file in the cache as (mtime, size, path), the marker left out."""
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            if path.parent == root and name == _MARKER:
                continue
            with contextlib.suppress(OSError):
                stat = path.stat()
                found.append((stat.st_mtime, stat.st_size, path))
    return found


def prune(root: Path, limit: int) -> int:
    """Delete the files written longest ago until `root` holds under 80% of `limit`
    bytes, if it holds more than `limit`; the bytes freed."""
    entries = _entries(root)
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return 0
    freed = 0
    for _, size, path in sorted(entries, key=lambda entry: entry[0]):
        if total - freed <= limit * 0.8:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            freed += size
    return freed


def usage() -> tuple[int, int]:
    """How many files the cache holds and their bytes; (0, 0) when it is off or empty."""
    root = cache_dir()
    if root is None:
        return 0, 0
    entries = _entries(root)
    return len(entries), sum(size for _, size, _ in entries)


def clear() -> tuple[int, int]:
    """Empty the cache: the files and bytes removed."""
    root = cache_dir()
    if root is None:
        return 0, 0
    removed = freed = 0
    for _, size, path in _entries(root):
        with contextlib.suppress(OSError):
            path.unlink()
            removed, freed = removed + 1, freed + size
    with contextlib.suppress(OSError):
        (root / _MARKER).unlink()
    for directory, _, _ in sorted(os.walk(root), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            Path(directory).rmdir()  # empty directories, deepest first
    return removed, freed
