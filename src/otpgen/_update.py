"""`otpgen update` and `otpgen check`: regenerate with the installed templates, keep edits.

Every recorded render is rendered again with its recorded answers. A file whose render is
what it was last time (same source hash) has nothing to take from the templates: it is left
alone, and no formatter runs for it — so a new otpgen release, a new ruff or a changed ruff
configuration changes nothing by itself. A file whose render changed is formatted and merged
three ways: base = the pristine render recorded last time, ours = the file on disk, theirs =
the new render. Nothing a user wrote is dropped: a file either takes the new render (it was
not edited), merges cleanly, or is reported as a conflict with both sides.
"""

import os
from pathlib import Path, PurePosixPath

from otpgen import _manifest
from otpgen._apply import LINK_FIX, LINKED, recover
from otpgen._errors import OtpgenError
from otpgen._files import read_text
from otpgen._format import formatter_fingerprint
from otpgen._instances import Instance, format_renders, overrides_dir, render_recorded
from otpgen._manifest import FileRecord, Manifest, RenderRecord, base_text, digest
from otpgen._merge import has_conflict_markers, merge
from otpgen._patterns import load_named
from otpgen._plan import (
    DELETED,
    DELETED_CHANGED,
    EDITED,
    Action,
    Change,
    Finding,
    Plan,
    rej_path,
)
from otpgen._project import find_root, open_project
from otpgen._record import frozen
from otpgen._render import FileTree, bundled
from otpgen._templates import templates_dir
from otpgen._version import __version__


def _read(root: Path, path: PurePosixPath) -> str | None:
    try:
        return read_text(root / path, root=root)
    except IsADirectoryError:
        raise OtpgenError(
            f"{path} is a directory where otpgen generated a file; move it away"
        ) from None


def _crlf(text: str | None) -> bool:
    """Whether every line of `text` ends in CRLF, as git's core.autocrlf checks files out."""
    return text is not None and "\r\n" in text and text.count("\n") == text.count("\r\n")


def _lf(text: str | None) -> str | None:
    """`text` with LF line endings if it is all CRLF: what the renders and bases hold, so
    a file converted to CRLF merges line by line, not as one changed whole."""
    return text.replace("\r\n", "\n") if text is not None and _crlf(text) else text


def _own_endings(change: Change, disk: str | None) -> Change:
    """`change`, decided on LF text, as written to a file in CRLF: its new text (and `.rej`)
    back in CRLF, and the file's own bytes as what the write expects to find."""
    if not _crlf(disk):
        return change

    def back(text: str | None) -> str | None:
        return None if text is None else text.replace("\n", "\r\n")

    return Change(
        change.path, change.action, disk, back(change.new), change.why, back(change.reject)
    )


def _open(cwd: Path) -> tuple[Path, Manifest, list[str]]:
    root = find_root(cwd.resolve())
    notes = [note] if (note := recover(root)) else []
    manifest = _manifest.load(root, __version__)
    if not manifest.renders:
        raise OtpgenError(
            f"nothing to update: otpgen has not generated anything in {root} "
            "(no .otpgen/manifest.json); start with `otpgen new`"
        )
    return root, manifest, notes


def _chosen(root: Path, cwd: Path, paths: list[Path]) -> list[Path]:
    chosen = []
    for given in paths:
        path = (cwd / given).resolve()
        if not path.exists():
            raise OtpgenError(f"{given} does not exist; give a file or directory to update")
        if path != root and root not in path.parents:
            raise OtpgenError(f"{given} is outside the project {root}")
        chosen.append(path)
    return chosen


def _selected(path: str, root: Path, chosen: list[Path]) -> bool:
    if not chosen:
        return True
    target = (root / path).resolve()
    return any(target == p or p in target.parents for p in chosen)


def _render_all(root: Path, manifest: Manifest, templates: Path) -> dict[str, Instance]:
    """Every recorded render, rendered again (not formatted)."""
    patterns = load_named(templates, {r.template for r in manifest.renders.values()})
    overrides = overrides_dir(root)
    rendered: dict[str, Instance] = {}
    package_dirs: dict[str, PurePosixPath] = {}
    with bundled(root):  # one cache entry for all of them, not one for each
        for key, render in manifest.renders.items():
            package = str(render.answers.get("package", ""))
            if package not in package_dirs:
                package_dirs[package] = open_project(root, package or None).package_dir
            rendered[key] = render_recorded(
                key, render, patterns, templates, package_dirs[package], overrides
            )
    return rendered


def _in_force(root: Path, render: RenderRecord) -> dict[str, FileRecord]:
    """Each file's record in force: a pending one once its `.rej` has been merged."""
    return {
        name: record
        if record.pending is None
        else record.resolved(
            _lf(_read(root, PurePosixPath(name))),
            (root / rej_path(PurePosixPath(name))).exists(),
        )
        for name, record in render.files.items()
    }


def _stale(record: FileRecord | None, text: str) -> bool:
    """Whether a file's render differs from the one recorded (unknown counts as different)."""
    return record is None or record.source != digest(text)


def _read_generated(root: Path, manifest: Manifest, chosen: list[Path]) -> dict[str, str | None]:
    """Every selected generated file's text (None: absent), or an error while one still
    holds conflict markers or has a `.rej` beside it."""
    disks: dict[str, str | None] = {}
    listed: dict[PurePosixPath, set[str]] = {}  # each directory listed once, for `.rej` files
    for render in manifest.renders.values():
        for name in render.files:
            if not _selected(name, root, chosen):
                continue
            path = PurePosixPath(name)
            if path.parent not in listed:
                try:
                    listed[path.parent] = set(os.listdir(root / path.parent))
                except (FileNotFoundError, NotADirectoryError):
                    listed[path.parent] = set()
            if rej_path(path).name in listed[path.parent]:
                raise OtpgenError(
                    f"{rej_path(path)} is left from `otpgen update --conflict rej`: merge it into "
                    f"{name} by hand and delete it, then run `otpgen update` again"
                )
            disks[name] = text = _read(root, path)
            if text is not None and has_conflict_markers(text):
                raise OtpgenError(
                    f"{name} still has conflict markers from an earlier update: resolve them "
                    "(edit the file), then run `otpgen update` again"
                )
    return disks


@frozen
class _Decision:
    change: Change
    record: FileRecord | None  # what the manifest records afterwards (None: forget the file)


def _decide(
    path: PurePosixPath,
    old: FileRecord | None,
    base: str | None,
    disk: str | None,
    new: str,
    source: str,
    *,
    label: str,
    rej: bool,
    restore_deleted: bool,
) -> _Decision:
    fresh = FileRecord(digest(new), source)
    if disk is None:
        if old is None:
            return _Decision(Change(path, Action.CREATE, None, new, "new in the templates"), fresh)
        if restore_deleted:
            return _Decision(Change(path, Action.CREATE, None, new, "restored"), fresh)
        return _Decision(Change(path, Action.KEEP, None, None, DELETED_CHANGED), fresh)
    if disk == new:
        return _Decision(Change(path, Action.KEEP, disk, disk), fresh)
    if base is None:  # a file of the user's in the way, or a base lost: nothing to merge with
        why = "no merge base: the new render is beside it as .rej"
        return _Decision(Change(path, Action.CONFLICT, disk, disk, why, reject=new), fresh)
    if disk == base:
        return _Decision(Change(path, Action.UPDATE, disk, new, "template changed"), fresh)
    # Only lines otpgen added (a module wired in, requirements): not an edit of the user's.
    added = old is not None and old.as_written(disk)
    if new == base:
        kept = FileRecord(fresh.sha, source, wired=old.wired if added and old else None)
        return _Decision(Change(path, Action.KEEP, disk, disk, "" if added else EDITED), kept)
    merged, conflicted = merge(base, disk, new, label)
    if not conflicted:
        if added:
            why = "template changed; the lines otpgen added kept"
            return _Decision(
                Change(path, Action.MERGE, disk, merged, why), fresh.with_wired(new, merged)
            )
        why = "template changed; your edits kept"
        return _Decision(Change(path, Action.MERGE, disk, merged, why), fresh)
    if rej and old is not None:  # the old base stays until the .rej is merged by hand
        why = "overlapping edits: the new render is beside it as .rej"
        held = FileRecord(old.sha, old.source, pending=fresh, held=digest(disk))
        return _Decision(Change(path, Action.CONFLICT, disk, disk, why, reject=new), held)
    why = "overlapping edits: resolve the conflict markers"
    return _Decision(Change(path, Action.CONFLICT, disk, merged, why), fresh)


def _dropped(path: PurePosixPath, old: FileRecord, base: str | None, disk: str | None) -> Change:
    if disk is None:
        return Change(path, Action.KEEP, None, None, "dropped from the templates; already gone")
    if disk == base or digest(disk) == old.sha:
        return Change(path, Action.REMOVE, disk, None, "dropped from the templates")
    return Change(path, Action.KEEP, disk, disk, "dropped from the templates; edited, so kept")


def _base(root: Path, name: str, record: FileRecord | None, disk: str | None) -> str | None:
    if record is None:
        return None
    base = base_text(root, name, record)
    if base is None and disk is not None and digest(disk) == record.sha:
        return disk  # the stored base is gone, but the hash proves the file is unedited
    return base


def plan_update(
    cwd: Path,
    templates: Path | None = None,
    *,
    paths: list[Path] | None = None,
    rej: bool = False,
    restore_deleted: bool = False,
) -> Plan:
    """Decide every write of `otpgen update`, or raise OtpgenError; writes nothing."""
    templates = templates or templates_dir()
    root, manifest, notes = _open(cwd)
    chosen = _chosen(root, cwd.resolve(), paths or [])
    disks = _read_generated(root, manifest, chosen)
    rendered = _render_all(root, manifest, templates)

    records = {key: _in_force(root, render) for key, render in manifest.renders.items()}
    # Format only what changed at its source (or is being restored): one ruff pass in all.
    todo: dict[str, Instance] = {}
    for key, r in rendered.items():
        needed = {
            p: t
            for p, t in r.tree.items()
            if _selected(p.as_posix(), root, chosen)
            and (
                _stale(records[key].get(p.as_posix()), t)
                or (restore_deleted and not (root / p).exists())
            )
        }
        if needed:
            todo[key] = Instance(needed, r.template, r.version, r.answers, r.shadows)
    formatted: dict[str, FileTree] = format_renders(todo, root) if todo else {}

    changes: list[Change] = []
    bases: dict[str, str] = {}
    renders: dict[str, RenderRecord] = {}
    for key, r in rendered.items():
        old = manifest.renders[key]
        label = f"{r.template} template v{r.version}"
        files: dict[str, FileRecord] = {}
        partial = False  # some of the render's files are left out by PATHS
        for path, text in r.tree.items():
            name = path.as_posix()
            if not _selected(name, root, chosen):
                partial = True
                if name in old.files:
                    files[name] = old.files[name]
                continue
            record = records[key].get(name)
            raw = disks[name] if name in disks else _read(root, path)
            disk = _lf(raw)
            new = formatted.get(key, {}).get(path)
            if new is None:  # the same render as last time: nothing to take from it
                assert record is not None
                why = "" if disk is None or record.as_written(disk) else EDITED
                if disk is None:
                    why = DELETED
                changes.append(Change(path, Action.KEEP, raw, raw, why))
                files[name] = record
                continue
            base = _base(root, name, record, disk)
            decision = _decide(
                path,
                record,
                base,
                disk,
                new,
                digest(text),
                label=label,
                rej=rej,
                restore_deleted=restore_deleted,
            )
            changes.append(_own_endings(decision.change, raw))
            if decision.record is not None:
                files[name] = decision.record
                bases[digest(new)] = new
        for name, record in old.files.items():
            path = PurePosixPath(name)
            if path in r.tree:
                continue
            if not _selected(name, root, chosen):
                partial = True
                files[name] = record
                continue
            raw = disks[name] if name in disks else _read(root, path)
            disk = _lf(raw)
            dropped = _dropped(path, record, _base(root, name, record, disk), disk)
            changes.append(_own_endings(dropped, raw))
        # A render updated in part stays at the version (and overrides) of its files left
        # out: what `check` and the next `update` say of them must not be lost.
        version, shadows = (old.version, old.shadows) if partial else (r.version, r.shadows)
        renders[key] = RenderRecord(r.template, version, r.answers, files, shadows)
        notes += [
            f"review .otpgen/templates/{shadow}: the shipped template it overrides changed"
            for shadow, sha in r.shadows.items()
            if old.shadows.get(shadow, sha) != sha
        ]
    changes.sort(key=lambda c: c.path.as_posix())
    return Plan(
        command="update",
        root=root,
        changes=changes,
        manifest=Manifest(
            __version__, renders, formatter_fingerprint(root) if todo else manifest.formatter
        ),
        previous=manifest,
        bases=bases,
        notes=notes,
        next_step=(
            ("merge the .rej files by hand" if rej else "resolve the conflict markers")
            + ", then run `otpgen update` again"
            if any(c.action is Action.CONFLICT for c in changes)
            else None
        ),
    )


_UPDATE = "run `otpgen update`"


def check(cwd: Path, templates: Path | None = None) -> list[Finding]:
    """Why the generated code is behind its templates or unfinished, file by file."""
    templates = templates or templates_dir()
    root, manifest, notes = _open(cwd)
    findings = [Finding(".otpgen/", note, "nothing: done", failing=False) for note in notes]
    formatter = formatter_fingerprint(root)
    if manifest.formatter and manifest.formatter != formatter:
        findings.append(
            Finding(
                ".otpgen/manifest.json",
                f"the formatter or its configuration changed ({manifest.formatter} -> "
                f"{formatter}); not a template change",
                "nothing: `otpgen update` formats only what the templates change",
                failing=False,
            )
        )
    for key, r in _render_all(root, manifest, templates).items():
        old = manifest.renders[key]
        changed_from = f"the {r.template} template changed"
        if old.version != r.version:
            changed_from += f" (v{old.version} -> v{r.version})"
        legacy: dict[PurePosixPath, str] = {}
        records = _in_force(root, old)
        for path, text in r.tree.items():
            name = path.as_posix()
            record = records.get(name)
            disk = _lf(_read(root, path))
            if record is None:
                findings.append(Finding(name, f"new in the {r.template} templates", _UPDATE))
            elif record.source is None:
                legacy[path] = text  # recorded by otpgen 0.1: compare formatted renders
            elif _stale(record, text):
                findings.append(Finding(name, changed_from, _UPDATE))
            findings += _file_state(root, path, record, disk)
        if legacy:
            probe = Instance(legacy, r.template, r.version, r.answers, r.shadows)
            for path, text in format_renders({key: probe}, root)[key].items():
                record = old.files[path.as_posix()]
                if digest(text) != record.sha:
                    findings.append(Finding(path.as_posix(), changed_from, _UPDATE))
        for name in old.files:
            if PurePosixPath(name) not in r.tree:
                findings.append(Finding(name, f"dropped from the {r.template} templates", _UPDATE))
        for shadow, sha in r.shadows.items():
            if old.shadows.get(shadow, sha) != sha:
                findings.append(
                    Finding(
                        f".otpgen/templates/{shadow}",
                        "overrides a shipped template that changed since",
                        "review the override against the shipped template, then run "
                        "`otpgen update`",
                    )
                )
    return [_through_link(root, f) for f in findings]


def _through_link(root: Path, finding: Finding) -> Finding:
    """`finding`, with the fix that works when `update` would have to write a file that is
    a symbolic link (which it refuses): not the update alone."""
    if finding.fix != _UPDATE or not (root / finding.path).is_symlink():
        return finding
    return Finding(
        finding.path,
        f"{finding.cause}; it {LINKED}",
        f"{LINK_FIX}, then run `otpgen update`",
    )


def _file_state(
    root: Path, path: PurePosixPath, record: FileRecord | None, disk: str | None
) -> list[Finding]:
    name = path.as_posix()
    found = []
    if (root / rej_path(path)).exists():
        found.append(
            Finding(
                name,
                f"{rej_path(path).name} left by `otpgen update --conflict rej`",
                f"merge {rej_path(path)} into {name} by hand, delete it, then run `otpgen update`",
            )
        )
    if disk is not None and has_conflict_markers(disk):
        found.append(
            Finding(name, "conflict markers left", "edit the file to resolve them (that is all)")
        )
    elif record is not None and disk is not None and not record.as_written(disk):
        found.append(Finding(name, EDITED, "nothing: update keeps it", failing=False))
    return found
