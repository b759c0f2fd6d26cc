"""The only step that touches the disk: write a set of files all or nothing.

Every new text is first staged beside its target; only when all are staged are they moved
into place with os.replace, each old file kept aside under a temporary name until the end.
If anything fails (a full disk, a permission error, an interrupt), the moves are undone —
renames only, which need no free space — so a run lands whole or leaves the tree as it was.
Callers put the manifest last, so it never describes files that are not there.
"""

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath


def _remove_empty(directories: list[Path]) -> None:
    for directory in reversed(directories):
        with contextlib.suppress(OSError):  # not empty after all: leave it
            directory.rmdir()


def write_files(root: Path, files: Sequence[tuple[PurePosixPath, str | None]]) -> None:
    """Write every (path, text) under `root` — None removes the file — all or nothing."""
    created_dirs: list[Path] = []
    staged: list[tuple[Path | None, Path]] = []  # (staged new text or None to remove, target)
    moved: list[tuple[Path, Path | None]] = []  # (target, where its old file waits)
    try:
        for path, text in files:
            target = root / path
            if text is None:
                staged.append((None, target))
                continue
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            for directory in reversed(missing):
                directory.mkdir()
                created_dirs.append(directory)
            new = target.with_name(f".{target.name}.otpgen-new")
            staged.append((new, target))
            new.write_bytes(text.encode("utf-8"))
        for stage, target in staged:
            backup = None
            if target.exists():
                backup = target.with_name(f".{target.name}.otpgen-old")
                os.replace(target, backup)
            moved.append((target, backup))
            if stage is not None:
                os.replace(stage, target)
    except BaseException:
        for target, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, target)
            elif target.exists():
                target.unlink()
        for leftover, _ in staged:
            if leftover is not None:
                leftover.unlink(missing_ok=True)
        _remove_empty(created_dirs)
        raise
    for _, backup in moved:
        if backup is not None:
            backup.unlink(missing_ok=True)
