"""Formatting a rendered tree with ruff, under the user's own ruff configuration.

One `ruff check --fix` and one `ruff format` over a temporary copy of the whole tree,
never a process per file.
"""

import os
import tomllib
from pathlib import Path, PurePosixPath

from otpgen import _cache
from otpgen._errors import OtpgenError
from otpgen._render import FileTree
from otpgen._version import __version__


def _ruff() -> str:
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - ruff is a dependency of otpgen
        raise OtpgenError("ruff is not installed; reinstall otpgen") from None
    return str(find_ruff_bin())


def ruff_config(root: Path) -> Path | None:
    """The project's ruff configuration file, if it has one."""
    for name in ("ruff.toml", ".ruff.toml"):
        if (root / name).is_file():
            return root / name
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError:
            return None
        if "ruff" in data.get("tool", {}):
            return pyproject
    return None


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
    )
    keys = {path: _cache.key(*salt, path.as_posix(), text) for path, text in tree.items()}
    done: FileTree = {}
    for path, name in keys.items():
        cached = _cache.read("format", name)
        if cached is not None:
            done[path] = cached
    todo = {path: text for path, text in tree.items() if path not in done}
    if todo:
        fresh = _run_ruff(ruff, todo, config, packages)
        for path, text in fresh.items():
            _cache.write("format", keys[path], text)
        done.update(fresh)
    return {path: done[path] for path in tree}


def _packages(root: Path) -> list[PurePosixPath]:
    """The project's top-level packages (their __init__.py), at the root and under src/."""
    found = [*root.glob("*/__init__.py"), *root.glob("src/*/__init__.py")]
    return sorted(PurePosixPath(p.relative_to(root).as_posix()) for p in found)


def _run_ruff(
    ruff: str, tree: FileTree, config: Path | None, packages: list[PurePosixPath]
) -> FileTree:
    import subprocess
    import tempfile

    options = ["--config", str(config)] if config else ["--isolated"]
    with tempfile.TemporaryDirectory(prefix="otpgen-") as tmp:
        base = Path(tmp)
        for path, text in tree.items():
            target = base / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        # Mirror the project's packages (empty __init__.py files), so ruff sorts imports of
        # the project's own packages as first-party exactly as it will in the project.
        for marker in packages:
            if marker not in tree:
                (base / marker).parent.mkdir(parents=True, exist_ok=True)
                (base / marker).touch()
        for command in (
            [ruff, "check", "--fix", "--exit-zero", "--quiet", "--no-cache", *options, "."],
            [ruff, "format", "--quiet", "--no-cache", *options, "."],
        ):
            result = subprocess.run(command, cwd=base, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                detail = (result.stderr or result.stdout).strip().splitlines()
                raise OtpgenError(
                    f"ruff could not format the generated code: {detail[-1] if detail else '?'}"
                    + (f" (config: {config})" if config else "")
                )
        return {path: (base / path).read_text(encoding="utf-8") for path in tree}
