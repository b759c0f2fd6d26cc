"""Formatting a rendered tree with ruff, under the user's own ruff configuration.

One `ruff check --fix` and one `ruff format` over a temporary copy of the whole tree,
never a process per file.
"""

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen import _cache
from otpgen._errors import OtpgenError
from otpgen._files import read_toml, table
from otpgen._render import FileTree
from otpgen._version import __version__


def _ruff() -> str:
    """The ruff executable of the installed ruff package.

    Where the package lies under the running Python's prefix (pip in a venv, pipx, uv
    tool, or pip into the interpreter itself) that is the prefix's own `bin/ruff`, found
    with one stat; ruff's `find_ruff_bin` would first load sysconfig (about 8 ms of
    otpgen's start).
    """
    package = _ruff_package()
    if package is None:  # pragma: no cover - ruff is a dependency of otpgen
        raise OtpgenError("ruff is not installed; reinstall otpgen")
    if os.name == "posix":
        beside = Path(sys.prefix, "bin", "ruff")
        if package.is_relative_to(sys.prefix) and beside.is_file():
            return str(beside)
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

    return str(find_ruff_bin())


def _ruff_package() -> Path | None:
    """The ruff package's directory, as `import ruff` would find it, without importing it
    (its `__init__` loads sysconfig)."""
    loaded = sys.modules.get("ruff")
    if loaded is not None:
        return Path(next(iter(loaded.__path__)))
    for entry in sys.path:
        candidate = Path(entry or ".", "ruff")
        if (candidate / "__init__.py").is_file():
            return candidate
    try:  # installed in some other way (an import hook): let the import system say where
        import ruff  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - ruff is a dependency of otpgen
        return None
    return Path(next(iter(ruff.__path__)))


def ruff_config(root: Path) -> Path | None:
    """The project's ruff configuration file, if it has one.

    A pyproject.toml that is not valid TOML is an OtpgenError: formatting with ruff's
    defaults instead would silently rewrite the user's style (and drop their `# noqa`s).
    """
    for name in ("ruff.toml", ".ruff.toml"):
        if (root / name).is_file():
            return root / name
    pyproject = root / "pyproject.toml"
    data = read_toml(pyproject)
    if data is not None and "ruff" in table(data, "tool", str(pyproject)):
        return pyproject
    return None


@cache
def _ruff_version() -> str:
    """The installed ruff's version, from its dist-info directory's name.

    importlib.metadata would scan every distribution on the path (about 20 ms); ruff's own
    metadata sits beside its package.
    """
    package = _ruff_package()
    if package is None:  # pragma: no cover - ruff is a dependency of otpgen
        return "(version unknown)"
    for info in package.parent.glob("ruff-*.dist-info"):
        return info.name.removeprefix("ruff-").removesuffix(".dist-info")
    return "(version unknown)"  # pragma: no cover - ruff is a dependency of otpgen


def formatter_fingerprint(root: Path) -> str:
    """What formats a render, as a short stable line: the ruff version and its configuration.

    For example `ruff 0.14.3, config pyproject.toml sha256:ab12cd34ef56` or `ruff 0.14.3,
    no config`. A pyproject.toml counts by its `[tool.ruff]` table and `requires-python`
    (ruff's default target version) only, so bumping the project's version changes nothing.
    Files a configuration `extend`s are not followed. No process is started.
    """
    ruff = f"ruff {_ruff_version()}"
    config = ruff_config(root)
    if config is None:
        return f"{ruff}, no config"
    pyproject = read_toml(root / "pyproject.toml") or {}
    settings: dict[str, Any] = {
        "requires-python": table(pyproject, "project", "pyproject.toml").get("requires-python")
    }
    if config.name == "pyproject.toml":
        settings["tool.ruff"] = table(pyproject, "tool.ruff", "pyproject.toml")
    else:
        settings[config.name] = config.read_bytes().hex()
    blob = json.dumps(settings, sort_keys=True, default=str).encode("utf-8")
    return f"{ruff}, config {config.name} sha256:{hashlib.sha256(blob).hexdigest()[:12]}"


def format_tree(tree: FileTree, root: Path) -> FileTree:
    """`tree` after `ruff check --fix` and `ruff format` with the project's configuration.

    Results are cached by content (ruff binary, configuration, path, text), so rendering
    the same files again, such as the kernel, starts no process at all.
    """
    if not tree:
        return {}
    config = ruff_config(root)
    ruff = _ruff()
    ruff_stat = os.stat(ruff)
    packages = _packages(root)
    salt = (
        f"otpgen {__version__}; {ruff}:{ruff_stat.st_size}:{ruff_stat.st_mtime_ns}",
        config.read_bytes() if config else b"isolated",
        " ".join(p.as_posix() for p in packages),
        # Every file of the tree is there while ruff runs (see _run_ruff): which ones can
        # change how a file's imports are sorted.
        " ".join(sorted(p.as_posix() for p in tree)),
    )
    keys = {path: _cache.key(*salt, path.as_posix(), text) for path, text in tree.items()}
    # A large batch (an update) is cached as one entry: one file to read or write instead
    # of hundreds, and `update --dry-run` then `update` formats once. A small one (`new`)
    # is cached per file, so the kernel is formatted once for every project.
    batch = len(tree) > _PER_FILE
    whole = _cache.key(*keys.values()) if batch else ""
    if batch and (cached := _cache.read("format", whole)) is not None:
        texts = json.loads(cached)
        return {path: texts[keys[path]] for path in tree}
    done: FileTree = {}
    if not batch:
        for path, name in keys.items():
            if (text := _cache.read("format", name)) is not None:
                done[path] = text
    todo = {path: text for path, text in tree.items() if path not in done}
    if todo:
        # The files served from the cache are there too, empty: ruff sorts `from shop.x
        # import y` as first-party only if it finds the module shop/x.py.
        fresh = _run_ruff(ruff, todo, config, [*packages, *tree])
        done.update(fresh)
        if batch:
            _cache.write("format", whole, json.dumps({keys[p]: t for p, t in done.items()}))
        else:
            for path, text in fresh.items():
                _cache.write("format", keys[path], text)
    return {path: done[path] for path in tree}


_PER_FILE = 32  # batches up to this size are cached file by file


def _packages(root: Path) -> list[PurePosixPath]:
    """The project's top-level packages (their __init__.py), at the root and under src/."""
    found = [*root.glob("*/__init__.py"), *root.glob("src/*/__init__.py")]
    return sorted(PurePosixPath(p.relative_to(root).as_posix()) for p in found)


def _run_ruff(
    ruff: str, tree: FileTree, config: Path | None, markers: list[PurePosixPath]
) -> FileTree:
    import subprocess

    options = ["--config", str(config)] if config else ["--isolated"]
    where = f" (config: {config})" if config else ""
    data = {path: text.encode("utf-8") for path, text in tree.items()}
    with _scratch(sum(map(len, data.values()))) as base:
        for path, encoded in data.items():
            target = base / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(encoded)
        # Mirror the project's packages (empty __init__.py files) and the other files of
        # the render (`markers`), so ruff sorts imports of the project's own modules as
        # first-party exactly as it will in the project.
        for marker in markers:
            if marker not in tree:
                (base / marker).parent.mkdir(parents=True, exist_ok=True)
                (base / marker).touch()
        check = [ruff, "check", "--fix", "--exit-zero", "--quiet", "--no-cache"]
        result = subprocess.run(
            [*check, "--output-format", "json", *options, "."],
            cwd=base,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise OtpgenError(f"ruff failed: {_ruff_failure(result.stderr, base)}{where}")
        syntax = _syntax_error(result.stdout, base, list(tree))
        if syntax is not None:
            raise OtpgenError(f"the rendered code is not valid Python: {syntax}")
        result = subprocess.run(
            [ruff, "format", "--no-cache", *options, "."],
            cwd=base,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise OtpgenError(
                f"ruff could not format the generated code: {_ruff_failure(result.stderr, base)}"
                f"{where}"
            )
        return {path: (base / path).read_bytes().decode("utf-8") for path in tree}


MEMORY_DIR = Path("/dev/shm")
"""Linux's memory filesystem, where the scratch copy goes unless TMPDIR names a place."""


def scratch_parent(size: int) -> str:
    """Where to make the scratch directory for `size` bytes of files.

    `$TMPDIR` whenever it is set. Otherwise /dev/shm, a filesystem in memory, if it is
    there, writable and has room for four times `size` (ruff rewrites files beside
    themselves): the scratch copy lives for a few hundred milliseconds and is never
    needed after, and on a disk every file created and removed there goes through the
    filesystem's journal (on ext4 about half of what formatting an update costs otpgen
    itself). Else /tmp.
    """
    explicit = os.environ.get("TMPDIR")
    if explicit:
        return explicit
    with contextlib.suppress(OSError):
        room = os.statvfs(MEMORY_DIR)
        if room.f_bavail * room.f_frsize >= 4 * size + (1 << 20) and os.access(
            MEMORY_DIR, os.W_OK | os.X_OK
        ):
            return str(MEMORY_DIR)
    return "/tmp"


@contextlib.contextmanager
def _scratch(size: int = 0) -> Iterator[Path]:
    """A new private directory for `size` bytes of files (see `scratch_parent`), removed
    with all it holds.

    `tempfile.TemporaryDirectory` does the same, but importing tempfile (with shutil and
    random) costs more than a `new` spends formatting: this makes the directory itself,
    and leaves anything unusual (no such parent, a platform without /tmp) to tempfile.
    """
    base = None
    if os.name == "posix":
        with contextlib.suppress(OSError):
            parent = scratch_parent(size)
            base = Path(parent, f"otpgen-{os.getpid()}-{os.urandom(6).hex()}")
            base.mkdir(mode=0o700)
    if base is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="otpgen-") as tmp:
            yield Path(tmp)
        return
    try:
        yield base
    finally:
        _remove(base)


def _remove(directory: Path) -> None:
    """Remove a scratch directory and everything in it (no link in it is followed)."""
    for parent, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(parent, name))
        for name in dirs:
            path = os.path.join(parent, name)
            with contextlib.suppress(OSError):
                if os.path.islink(path):
                    os.unlink(path)
                else:
                    os.rmdir(path)
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def _relative(text: str, base: Path) -> str:
    """`text` with the temporary directory's paths made relative (project-relative paths)."""
    for prefix in {str(base), str(base.resolve())}:
        text = text.replace(prefix + os.sep, "").replace(prefix, ".")
    return text


def _syntax_error(report: str, base: Path, order: list[PurePosixPath]) -> str | None:
    """The first syntax error in ruff's JSON report, as `path:line:col: message`."""
    try:
        diagnostics = json.loads(report) if report.strip() else []
    except ValueError:
        return None  # not a report: `ruff format` below still fails on a syntax error
    rank = {path: index for index, path in enumerate(order)}
    found = []
    for item in diagnostics if isinstance(diagnostics, list) else []:
        code, message = item.get("code"), str(item.get("message", ""))
        if code != "invalid-syntax" and not (code is None and message.startswith("SyntaxError")):
            continue
        path = PurePosixPath(_relative(str(item.get("filename", "?")), base).replace(os.sep, "/"))
        where = item.get("location") or {}
        row, column = int(where.get("row", 0)), int(where.get("column", 0))
        found.append((rank.get(path, len(rank)), row, column, f"{path}:{row}:{column}: {message}"))
    return min(found)[3] if found else None


def _ruff_failure(stderr: str, base: Path) -> str:
    """Ruff's own reason for failing, on one line, without its code snippets."""
    reasons = []
    for raw in _relative(stderr, base).splitlines():
        line = raw.strip()
        if not line or line == "ruff failed" or line.startswith(("|", "warning:")):
            continue
        if re.match(r"\d+ *\|", line):  # a line of a code snippet
            continue
        reasons.append(line.removeprefix("Cause:").removeprefix("error:").strip())
    return ": ".join(reasons) if reasons else "ruff stopped and printed no reason"
