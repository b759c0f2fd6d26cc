"""`otpgen update` and `otpgen check`: regenerate with the installed templates, keep edits.

Every recorded render is rendered again with its recorded answers and formatted, then each
file is merged three ways: base = the pristine render recorded last time, ours = the file on
disk, theirs = the new render. Nothing a user wrote is dropped: a file either takes the new
render (it was not edited), merges cleanly, or is reported as a conflict with both sides.
"""

import contextlib
import enum
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from otpgen import _manifest
from otpgen._apply import write_files
from otpgen._errors import OtpgenError
from otpgen._format import format_tree
from otpgen._manifest import Manifest, Render, base_text, digest
from otpgen._merge import has_conflict_markers, merge
from otpgen._names import class_name
from otpgen._patterns import Pattern, load_patterns
from otpgen._project import find_root, open_project
from otpgen._render import APPLICATION_TEMPLATE
from otpgen._renders import Rendered, overrides_dir, render_recorded
from otpgen._templates import templates_dir
from otpgen._version import __version__
from otpgen._wire import NotWireable, Wiring, wire


class Status(enum.Enum):
    """What `update` does to one file."""

    UNCHANGED = "unchanged"
    UPDATED = "updated"  # not edited: replaced by the new render
    MERGED = "merged"  # edited: the template's changes merged in cleanly
    CONFLICT = "conflict"  # edited where the template changed too: both sides kept
    ADDED = "added"  # new in the templates
    REMOVED = "removed"  # dropped from the templates, not edited
    KEPT = "kept"  # dropped from the templates but edited: left alone
    KEPT_DELETED = "kept-deleted"  # deleted by the user: stays deleted
    RESTORED = "restored"  # deleted by the user, brought back (--restore-deleted)


@dataclass(frozen=True)
class FileUpdate:
    """One file of an update plan."""

    path: PurePosixPath
    status: Status
    old: str | None  # on disk now
    new: str | None  # on disk afterwards (None: absent)
    base: str | None  # the pristine render to record (None: forget the file)
    reject: str | None = None  # with --conflict rej: the new render, written beside as .rej
    recorded: str | None = None  # the base recorded before this update

    @property
    def writes(self) -> bool:
        """Whether applying touches the file itself."""
        return self.new != self.old or self.reject is not None

    def diff(self) -> str:
        """The unified diff from the disk to the result."""
        import difflib

        if self.new == self.old:
            return ""
        name = self.path.as_posix()
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                (self.new or "").splitlines(keepends=True),
                f"a/{name}" if self.old is not None else "/dev/null",
                f"b/{name}" if self.new is not None else "/dev/null",
            )
        )


@dataclass(frozen=True)
class UpdatePlan:
    """Everything `apply_update` writes, decided before anything is written."""

    root: Path
    files: list[FileUpdate]
    manifest: Manifest
    previous: Manifest
    shadowed: list[str] = field(default_factory=list)  # overrides whose shipped file changed

    @property
    def conflicts(self) -> list[FileUpdate]:
        """The files left with conflicts."""
        return [f for f in self.files if f.status is Status.CONFLICT]

    @property
    def changed(self) -> bool:
        """Whether applying would write anything at all."""
        return any(f.writes or f.base != f.recorded for f in self.files) or (
            self.manifest.renders != self.previous.renders
        )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _decide(
    path: PurePosixPath,
    base: str | None,
    disk: str | None,
    new: str | None,
    *,
    label: str,
    rej: bool,
    restore_deleted: bool,
) -> FileUpdate:
    if new is None:  # dropped from the templates
        if disk is None:
            return FileUpdate(path, Status.REMOVED, None, None, None)
        if base is not None and disk == base:
            return FileUpdate(path, Status.REMOVED, disk, None, None)
        return FileUpdate(path, Status.KEPT, disk, disk, None)
    if disk is None:
        if base is None or restore_deleted:
            status = Status.ADDED if base is None else Status.RESTORED
            return FileUpdate(path, status, None, new, new)
        return FileUpdate(path, Status.KEPT_DELETED, None, None, new)
    if disk == new:
        return FileUpdate(path, Status.UNCHANGED, disk, disk, new)
    if base is None:  # new in the templates, but a file of the user's is in the way
        return FileUpdate(path, Status.CONFLICT, disk, disk, new, reject=new)
    if disk == base:
        return FileUpdate(path, Status.UPDATED, disk, new, new)
    if new == base:  # only the user changed it
        return FileUpdate(path, Status.UNCHANGED, disk, disk, new)
    merged, conflicted = merge(base, disk, new, label)
    if not conflicted:
        return FileUpdate(path, Status.MERGED, disk, merged, new)
    if rej:
        return FileUpdate(path, Status.CONFLICT, disk, disk, new, reject=new)
    return FileUpdate(path, Status.CONFLICT, disk, merged, new)


def _render_all(
    root: Path, manifest: Manifest, templates: Path
) -> dict[str, tuple[Rendered, dict[PurePosixPath, str]]]:
    """Every recorded render, rendered again and formatted (one ruff pass for all)."""
    patterns = load_patterns(templates)
    overrides = overrides_dir(root)
    rendered: dict[str, Rendered] = {}
    for key, render in manifest.renders.items():
        package = str(render.answers["package"])
        project = open_project(root, package)
        rendered[key] = render_recorded(
            key, render, patterns, templates, project.package_dir, overrides
        )
    everything = {path: text for r in rendered.values() for path, text in r.tree.items()}
    formatted = format_tree(everything, root)
    return {key: (r, {path: formatted[path] for path in r.tree}) for key, r in rendered.items()}


def _load(cwd: Path) -> tuple[Path, Manifest]:
    root = find_root(cwd.resolve())
    manifest = _manifest.load(root, __version__)
    if not manifest.renders:
        raise OtpgenError(
            f"nothing to update: otpgen has not generated anything in {root} "
            "(no .otpgen/manifest.json); start with `otpgen new`"
        )
    return root, manifest


def _selected(path: PurePosixPath, root: Path, paths: list[Path]) -> bool:
    if not paths:
        return True
    target = (root / path).resolve()
    return any(target == p or p in target.parents for p in paths)


def plan_update(
    cwd: Path,
    templates: Path | None = None,
    *,
    paths: list[Path] | None = None,
    rej: bool = False,
    restore_deleted: bool = False,
) -> UpdatePlan:
    """Decide every write of `otpgen update`, or raise OtpgenError; writes nothing."""
    templates = templates or templates_dir()
    root, manifest = _load(cwd)
    chosen = [p.resolve() for p in paths or []]
    marked = []
    for render in manifest.renders.values():
        for name in render.files:
            text = _read(root / name)
            if (
                text is not None
                and has_conflict_markers(text)
                and _selected(PurePosixPath(name), root, chosen)
            ):
                marked.append(name)
    if marked:
        raise OtpgenError(
            f"resolve the conflict markers left by an earlier update first: {', '.join(marked)}"
        )
    files: list[FileUpdate] = []
    renders: dict[str, Render] = {}
    shadowed: list[str] = []
    for key, (rendered, formatted) in _render_all(root, manifest, templates).items():
        old = manifest.renders[key]
        label = f"otpgen {__version__} ({rendered.template} template v{rendered.version})"
        recorded = {PurePosixPath(p) for p in old.files}
        kept_files: dict[str, str] = {}
        for path in sorted(recorded | set(formatted)):
            name = path.as_posix()
            if not _selected(path, root, chosen):
                if name in old.files:
                    kept_files[name] = old.files[name]
                continue
            base = base_text(root, name)
            update = _decide(
                path,
                base,
                _read(root / path),
                formatted.get(path),
                label=label,
                rej=rej,
                restore_deleted=restore_deleted,
            )
            files.append(replace(update, recorded=base))
            if update.base is not None:
                kept_files[name] = digest(update.base)
        renders[key] = Render(
            rendered.template, rendered.version, rendered.answers, kept_files, rendered.shadows
        )
        shadowed += [
            shadow
            for shadow, sha in rendered.shadows.items()
            if shadow in old.shadows and old.shadows[shadow] != sha
        ]
    files = _rewire(root, files, renders, load_patterns(templates))
    return UpdatePlan(root, files, Manifest(__version__, renders), manifest, shadowed)


def _rewire(
    root: Path, files: list[FileUpdate], renders: dict[str, Render], patterns: dict[str, Pattern]
) -> list[FileUpdate]:
    """Re-apply every module's wiring to application.py (idempotent: wired ones stay once)."""
    app = renders.get(APPLICATION_TEMPLATE)
    if app is None:
        return files
    path = next(iter(app.files), None)
    for index, update in enumerate(files):
        if update.path.as_posix() != path or update.status is Status.CONFLICT or not update.new:
            continue
        text = update.new
        for render in renders.values():
            pattern = patterns.get(render.template)
            name = render.answers.get("name")
            if pattern is None or not isinstance(name, str):
                continue
            package = str(render.answers["package"])
            wiring = pattern.wiring(package, name, class_name(name), render.answers)
            if wiring is not None:
                with contextlib.suppress(NotWireable):  # restructured by the user: leave it
                    text = wire(text, Wiring(*wiring))
        if text != update.new:
            text = format_tree({update.path: text}, root)[update.path]
            status = Status.MERGED if update.status is Status.UNCHANGED else update.status
            files[index] = replace(update, status=status, new=text)
    return files


def apply_update(plan: UpdatePlan) -> list[FileUpdate]:
    """Write the plan: files, .rej files, bases, manifest last; return what was written."""
    if not plan.changed:
        return []
    writes: list[tuple[PurePosixPath, str | None]] = []
    for update in plan.files:
        if update.new != update.old:
            writes.append((update.path, update.new))
        if update.reject is not None:
            writes.append((update.path.with_name(update.path.name + ".rej"), update.reject))
    for update in plan.files:
        if update.base != update.recorded:
            writes.append((_manifest.BASES / update.path, update.base))
    writes.append((_manifest.MANIFEST, plan.manifest.to_json()))
    write_files(plan.root, writes)
    return [update for update in plan.files if update.writes]


@dataclass(frozen=True)
class Problem:
    """One reason `otpgen check` fails."""

    path: str
    reason: str


def check(cwd: Path, templates: Path | None = None) -> list[Problem]:
    """Why the generated code is behind its templates or unfinished; empty when it is not."""
    templates = templates or templates_dir()
    root, manifest = _load(cwd)
    problems: list[Problem] = []
    for key, (rendered, formatted) in _render_all(root, manifest, templates).items():
        old = manifest.renders[key]
        for path, text in formatted.items():
            name = path.as_posix()
            if name not in old.files:
                problems.append(Problem(name, f"new in the {rendered.template} templates"))
            elif text != base_text(root, name):
                problems.append(
                    Problem(name, f"the {rendered.template} templates changed since it was written")
                )
        for name in old.files:
            if PurePosixPath(name) not in formatted:
                problems.append(Problem(name, f"dropped from the {rendered.template} templates"))
            disk = _read(root / name)
            if disk is not None and has_conflict_markers(disk):
                problems.append(Problem(name, "unresolved conflict markers"))
        for shadow, sha in rendered.shadows.items():
            if shadow in old.shadows and old.shadows[shadow] != sha:
                problems.append(
                    Problem(
                        f".otpgen/templates/{shadow}",
                        "overrides a shipped template that changed since; review it",
                    )
                )
    return problems
