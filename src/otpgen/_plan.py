"""The one change type every command plans with, and the one function that writes a plan.

`new`, `init` and `update` each decide a `Plan` without touching the disk; `apply_plan`
turns it into writes — the files, their `.rej` companions, the merge bases and the manifest,
last — and hands them to `_apply`, which makes them crash-safe.
"""

import enum
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen import _manifest
from otpgen._apply import Write, apply, apply_fresh
from otpgen._manifest import Manifest
from otpgen._record import field, frozen


class Action(enum.Enum):
    """What happens to one file."""

    CREATE = "create"  # absent: written
    UPDATE = "update"  # replaced: unedited, regenerated, or wired
    MERGE = "merge"  # your edits and the template's changes merged cleanly
    CONFLICT = "conflict"  # both changed the same lines: both kept, for you to resolve
    KEEP = "keep"  # left as it is
    REMOVE = "remove"  # dropped from the templates and not edited: removed


@frozen
class Change:
    """One file of a plan: what is on disk, what will be, and why."""

    path: PurePosixPath
    action: Action
    old: str | None  # on disk now (None: absent)
    new: str | None  # on disk afterwards (None: absent)
    why: str = ""  # what a person needs to know beyond the action, e.g. "edited by you"
    reject: str | None = None  # --conflict rej: the new render, written beside as `.rej`

    @property
    def writes(self) -> bool:
        """Whether applying touches the file (or its `.rej`)."""
        return self.new != self.old or self.reject is not None

    def diff(self) -> str:
        """The unified diff from the disk to the result."""
        if self.new == self.old:
            return ""
        import difflib  # only for a diff shown: kept off every command's start

        name = self.path.as_posix()
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                (self.new or "").splitlines(keepends=True),
                f"a/{name}" if self.old is not None else "/dev/null",
                f"b/{name}" if self.new is not None else "/dev/null",
            )
        )


DELETED = "deleted by you: stays deleted; --restore-deleted brings it back"
# Said once, by the update that takes a template change the deleted file then misses.
DELETED_CHANGED = (
    "deleted by you; the template changed: stays deleted, --restore-deleted brings it back"
)
EDITED = "edited by you"


@frozen
class Finding:
    """One difference `otpgen check` found, its cause, and what resolves it."""

    path: str
    cause: str
    fix: str
    failing: bool = True  # whether it makes `check` exit 1 (your own edits do not)


def rej_path(path: PurePosixPath) -> PurePosixPath:
    """Where `--conflict rej` puts the new render of `path`."""
    return path.with_name(path.name + ".rej")


@frozen
class Plan:
    """Everything a command writes, decided before anything is written."""

    command: str  # "new", "init" or "update"
    root: Path
    changes: list[Change]
    manifest: Manifest  # the manifest afterwards
    previous: Manifest  # the manifest before
    bases: dict[str, str] = field(default_factory=dict)  # sha -> pristine render to store
    notes: list[str] = field(default_factory=list)  # what else the user must know
    details: dict[str, Any] = field(default_factory=dict)  # what was generated, for reports
    next_step: str | None = None  # the command to run next, if any
    fresh: bool = False  # `root` does not exist yet (or is empty): created in one rename

    @property
    def conflicts(self) -> list[Change]:
        """The files left with conflicts."""
        return [c for c in self.changes if c.action is Action.CONFLICT]

    def writes(self) -> list[Write]:
        """Every disk write the plan makes, the manifest last; empty when nothing changes."""
        guard = not self.fresh  # nothing to guard in a directory that does not exist yet
        writes = [
            Write(
                c.path,
                None if c.new is None else c.new.encode("utf-8"),
                guard=guard,
                expect=None if c.old is None else c.old.encode("utf-8"),
            )
            for c in self.changes
            if c.new != c.old
        ]
        writes += [
            Write(rej_path(c.path), c.reject.encode("utf-8"), guard=guard)
            for c in self.changes
            if c.reject is not None
        ]
        changed = self.fresh or not self.manifest.same_as(self.previous)
        if not changed and not self.bases:
            return writes  # nothing recorded changes: no base to store or drop
        loose = set() if self.fresh else _manifest.stored_blobs(self.root)
        packs = {} if self.fresh else _manifest.stored_packs(self.root)
        needed = self.manifest.shas()
        # A pack goes once one of its bases is not needed (or it is unreadable); the ones
        # still needed are stored again with this command's new bases.
        dropped = [p for p, shas in packs.items() if changed and not (shas and shas <= needed)]
        kept = loose.union(*(shas for p, shas in packs.items() if p not in dropped))
        texts = {sha: text for sha, text in self.bases.items() if sha in needed and sha not in kept}
        for path in dropped:
            for sha, text in _manifest.pack_texts(self.root / path).items():
                if sha in needed and sha not in kept:
                    texts.setdefault(sha, text)
        if len(texts) >= _manifest.PACK_MIN:
            writes.append(Write(*_manifest.pack(texts)))
        else:
            writes += [
                Write(_manifest.blob_path(sha), _manifest.blob(text))
                for sha, text in sorted(texts.items())
            ]
        if changed:
            writes += [Write(_manifest.blob_path(sha), None) for sha in sorted(loose - needed)]
            writes += [Write(path, None) for path in dropped]
            writes += [Write(p, None) for p in _manifest.legacy_bases(self.root)]
            previous = self.previous.raw
            writes.append(
                Write(
                    _manifest.MANIFEST,
                    self.manifest.to_json().encode("utf-8"),
                    guard=guard,
                    expect=None if previous is None else previous.encode("utf-8"),
                )
            )
        return writes


def apply_plan(plan: Plan) -> list[Change]:
    """Write the plan, crash-safe; return the changes that touched a file."""
    writes = plan.writes()
    if plan.fresh:
        apply_fresh(plan.root, writes)
    else:
        apply(plan.root, writes, plan.command)
    return [c for c in plan.changes if c.writes]
