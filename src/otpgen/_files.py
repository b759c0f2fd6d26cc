"""Reading the user's files as text and TOML, with errors that name the file, not its bytes."""

import copy
import functools
import json
from pathlib import Path
from typing import Any

from otpgen import _cache
from otpgen._errors import OtpgenError


def shown(path: Path, root: Path | None = None) -> str:
    """`path` as a message names it: relative to `root` when it lies inside, else as given."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def brief(value: object, limit: int = 40) -> str:
    """`repr(value)`, cut to `limit` characters: enough to recognise, never a whole file."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text(path: Path, *, root: Path | None = None) -> str | None:
    """The UTF-8 text of `path`, None if there is no such file.

    A file that is not UTF-8 raises OtpgenError naming it (relative to `root`, if given)
    and the offset of its first bad byte; the message never quotes the content.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OtpgenError(
            f"{shown(path, root)} is not UTF-8 text (invalid byte at offset {exc.start}); "
            "save it as UTF-8"
        ) from None


def read_toml(path: Path, *, root: Path | None = None) -> dict[str, Any] | None:
    """The TOML document at `path`, None if there is no such file, or OtpgenError naming it.

    A command reads the project's pyproject.toml several times (the package, ruff's
    configuration, the formatter's fingerprint); it is parsed once per content.
    """
    text = read_text(path, root=root)
    if text is None:
        return None
    data = _parse_toml(text)
    if isinstance(data, str):
        raise OtpgenError(f"{shown(path, root)} is not valid TOML: {data}")
    return copy.deepcopy(data)


@functools.lru_cache(maxsize=8)
def _parse_toml(text: str) -> dict[str, Any] | str:
    """The document, or tomllib's complaint about it.

    A document made only of what JSON holds as it is (no dates, no NaN) is kept in
    otpgen's cache as JSON, keyed by its text: reading it back is much cheaper than
    importing tomllib, and the same pyproject.toml and pattern.toml are read by every run.
    """
    key = _cache.key("toml", text)
    cached = _cache.read("toml", key)
    if cached is not None:
        try:
            data = json.loads(cached)
        except ValueError:  # a damaged cache entry: parse the text again
            data = None
        if isinstance(data, dict):
            return data
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return str(exc)
    try:
        dumped = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):  # a date, a time, NaN or infinity
        return data
    if json.loads(dumped) == data:
        _cache.write("toml", key, dumped)
    return data


def table(data: dict[str, Any], dotted: str, where: str) -> dict[str, Any]:
    """The table at `dotted` (e.g. `tool.otpgen`) in `data`, {} if absent.

    A value that is there but not a table is an OtpgenError naming `where` and the key.
    """
    current = data
    walked: list[str] = []
    for key in dotted.split("."):
        walked.append(key)
        value = current.get(key, {})
        if not isinstance(value, dict):
            raise OtpgenError(
                f"{where}: expected [{'.'.join(walked)}] to be a table, got: {brief(value)}"
            )
        current = value
    return current
