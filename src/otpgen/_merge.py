"""Three-way merge of a generated file: the pristine render, the user's file, the new render.

Two stages, so that `otpgen update` merges cleanly wherever `git merge-file` does:

1. merge3, in Python, finds the regions each side changed; where only one side changed a
   region that side's version is taken. It first runs with difflib's sequence matcher as
   is (fast), and where that reports a conflict, again without difflib's autojunk
   heuristic (2-3 times slower on files of 200 lines or more): with it, lines repeated
   more than about 1% of the time (blank lines, docstring quotes, `@classmethod`) cannot anchor a
   match, and an edit next to them can spread into a spurious conflict.
2. Where merge3 reports a conflict and `git` is on PATH, `git merge-file` settles it: when
   git merges the same three texts cleanly its result is taken. Both tools only ever take
   a side's change where the other side left that region alone, so either clean result
   keeps every edit; but where both sides edit near each other, in lines that repeat
   (blank lines, `pass`, `)`), a diff has several equally short alignments, and merge3's
   choice can make two edits touch where git's (Myers' diff, with hunks slid to a canonical
   place) keeps them apart. No pure-Python diff reproduces git's choices, hence the
   subprocess; it runs for conflicted files only, which are rare.

Without git the first stage alone decides, and a few such merges stay conflicts. A conflict
keeps both versions between git's markers, `<<<<<<< yours ...`, `=======`, `>>>>>>> label`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

CONFLICT_START = "<<<<<<< "
CONFLICT_END = ">>>>>>> "
YOURS_LABEL = "yours (edited since otpgen wrote it)"
GIT_TIMEOUT = 30.0  # seconds; git merges a few hundred lines in milliseconds


def _has_line_starting(text: str, prefix: str) -> bool:
    return text.startswith(prefix) or f"\n{prefix}" in text


def has_conflict_markers(text: str) -> bool:
    """Whether `text` carries unresolved merge conflict markers (lines starting them)."""
    return _has_line_starting(text, CONFLICT_START) and _has_line_starting(text, CONFLICT_END)


class _NoAutojunkMatcher(difflib.SequenceMatcher[str]):
    """difflib's matcher without autojunk, so that frequent lines still anchor matches."""

    def __init__(
        self,
        isjunk: Callable[[str], bool] | None = None,
        a: Sequence[str] = (),
        b: Sequence[str] = (),
        autojunk: bool = False,
    ) -> None:
        super().__init__(isjunk, a, b, autojunk=autojunk)


def merge(base: str, ours: str, theirs: str, theirs_label: str) -> tuple[str, bool]:
    """Three-way merge of `ours` and `theirs` from `base`: (text, had conflicts).

    Conflicts get git's markers: `<<<<<<< yours ...`, `=======`, `>>>>>>> theirs_label`.
    """
    text, conflicted = _merge3(base, ours, theirs, theirs_label, None)
    if conflicted:
        text, conflicted = _merge3(base, ours, theirs, theirs_label, _NoAutojunkMatcher)
    if conflicted:
        settled = git_merge_file(base, ours, theirs)
        if settled is not None:
            return settled, False
    return text, conflicted


def _merge3(
    base: str, ours: str, theirs: str, theirs_label: str, matcher: type[_NoAutojunkMatcher] | None
) -> tuple[str, bool]:
    import merge3

    merger = merge3.Merge3(
        base.splitlines(keepends=True),
        ours.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
        # merge3's protocol wants list[tuple[int, int, int]] where difflib gives list[Match]
        sequence_matcher=matcher,  # type: ignore[arg-type]
    )
    out: list[str] = []
    conflicted = False

    def line(marker: str) -> None:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(marker + "\n")

    for group in merger.merge_groups():  # one pass over the regions
        if group[0] == "conflict":
            conflicted = True
            line(CONFLICT_START + YOURS_LABEL)
            out.extend(group[2])
            line("=======")
            out.extend(group[3])
            line(CONFLICT_END + theirs_label)
        else:
            out.extend(group[1])
    return "".join(out), conflicted


def git_merge_file(base: str, ours: str, theirs: str) -> str | None:
    """`git merge-file`'s merge of the three texts when it is clean; None otherwise.

    None also when git is not on PATH, fails (binary input) or takes too long. The user's
    and the system's git configuration are left out, so the result is the same everywhere.
    """
    # Imported here: git settles conflicts only, and tempfile (with shutil, and the
    # archive modules shutil loads) would cost every update's start otherwise.
    import shutil
    import subprocess
    import tempfile

    git = shutil.which("git")
    if git is None:
        return None
    with tempfile.TemporaryDirectory(prefix="otpgen-merge-") as scratch:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(scratch, name)
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            paths.append(str(path))
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
        try:
            done = subprocess.run(
                [git, "-c", "merge.conflictStyle=merge", "merge-file", "-p", *paths],
                cwd=scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
    if done.returncode != 0:  # the number of conflicts, or negative on an error
        return None
    return done.stdout.decode("utf-8", "surrogateescape")
