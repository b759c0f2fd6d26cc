"""Comparing a formatted render with the disk and the manifest: what `apply` would do."""

import enum
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from otpgen._errors import OtpgenError
from otpgen._manifest import Manifest, digest
from otpgen._render import FileTree


class Action(enum.Enum):
    """What happens to one file."""

    CREATE = "create"
    OVERWRITE = "overwrite"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Change:
    """One file of a plan."""

    path: PurePosixPath
    action: Action
    text: str  # the new text
    old: str | None  # what is on disk now, if anything
    pristine: bool = True  # a render to record as the merge base (not an edit, like wiring)

    @property
    def writes(self) -> bool:
        """Whether applying this change touches the file."""
        return self.action in (Action.CREATE, Action.OVERWRITE)

    def diff(self) -> str:
        """The unified diff from the disk to the new text."""
        if not self.writes:
            return ""
        import difflib

        old = (self.old or "").splitlines(keepends=True)
        new = self.text.splitlines(keepends=True)
        name = self.path.as_posix()
        before = f"a/{name}" if self.old is not None else "/dev/null"
        return "".join(difflib.unified_diff(old, new, before, f"b/{name}"))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return "\ufffd"  # not text: never equal to a render, always "edited"


def plan_files(
    root: Path,
    tree: FileTree,
    manifest: Manifest,
    *,
    owner: str,
    force: bool = False,
    overwrite_edited: bool = False,
) -> list[Change]:
    """A change per file of `tree`, or OtpgenError when writing would lose something.

    A file that exists and otpgen never wrote is refused without `force`; a file otpgen
    wrote and the user edited since is refused even with it, unless `overwrite_edited`.
    A file recorded for another render is refused: choose another name.
    """
    changes: list[Change] = []
    for path, text in tree.items():
        target = root / path
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise OtpgenError(f"{path} exists and is not a regular file; move it away first")
        old = _read(target)
        recorded = manifest.owner(path)
        if old is None:
            action = Action.CREATE
        elif old == text:
            action = Action.UNCHANGED
        elif recorded is not None and recorded[0] != owner:
            raise OtpgenError(
                f"{path} was generated for {recorded[0]}; choose another name for this one"
            )
        elif recorded is None:
            if not force:
                raise OtpgenError(
                    f"{path} already exists and otpgen did not write it; pass --force to "
                    "overwrite it"
                )
            action = Action.OVERWRITE
        elif digest(old) != recorded[1].files[path.as_posix()]:
            if not overwrite_edited:
                raise OtpgenError(
                    f"{path} was edited since otpgen wrote it; run `otpgen update` to merge "
                    "the new render into your edits, or pass --overwrite-edited to discard them"
                )
            action = Action.OVERWRITE
        elif not force:
            raise OtpgenError(
                f"{path} already exists (generated earlier); pass --force to render it again"
            )
        else:
            action = Action.OVERWRITE
        changes.append(Change(path, action, text, old))
    return changes
