"""`otpgen remove PATTERN NAME`: the module `new` wrote, its test, its wiring and its
manifest record, taken out again as one plan (applied by `_plan.apply_plan`).

Only what otpgen wrote goes: a file you edited since is refused unless `--force` (nothing
is written then), the kernel stays (other modules use it), and dependencies `new` added
to pyproject.toml stay (another module may import them; the report says which).
"""

from pathlib import Path, PurePosixPath

from otpgen import _manifest
from otpgen._apply import recover
from otpgen._errors import OtpgenError
from otpgen._files import read_text
from otpgen._manifest import Manifest, digest, record_wired
from otpgen._names import class_name
from otpgen._patterns import Pattern, load_pattern
from otpgen._plan import Action, Change, Plan
from otpgen._project import Project, open_project
from otpgen._record import field, frozen
from otpgen._render import APPLICATION_TEMPLATE
from otpgen._templates import templates_dir
from otpgen._version import __version__


@frozen
class RemoveRequest:
    """What the user asked `otpgen remove` for."""

    pattern: str
    name: str
    package: str | None = None
    cwd: Path = field(default_factory=Path.cwd)
    force: bool = False  # remove files edited since they were generated, too


def plan_remove(request: RemoveRequest, templates: Path | None = None) -> Plan:
    """Decide every write of `otpgen remove`, or raise OtpgenError; writes nothing."""
    templates = templates or templates_dir()
    pattern = load_pattern(templates, request.pattern)
    project = open_project(request.cwd, request.package)
    notes = [note] if (note := recover(project.root)) else []
    manifest = _manifest.load(project.root, __version__)
    owner = f"{pattern.name}:{request.name}"
    record = manifest.renders.get(owner)
    if record is None or record.answers.get("package") != project.package:
        made = sorted(
            key.partition(":")[2]
            for key, r in manifest.renders.items()
            if key.startswith(f"{pattern.name}:") and r.answers.get("package") == project.package
        )
        known = f"; it has: {', '.join(made)}" if made else ""
        raise OtpgenError(
            f"no {pattern.name} module {request.name!r} generated in package "
            f"{project.package}{known}"
        )
    changes: list[Change] = []
    edited: list[str] = []
    for name, entry in sorted(record.files.items()):
        path = PurePosixPath(name)
        try:
            text = read_text(project.root / path, root=project.root)
        except IsADirectoryError:
            raise OtpgenError(f"{path} is a directory where otpgen generated a file") from None
        if text is None:
            continue  # deleted already
        if digest(text) == entry.sha:
            changes.append(Change(path, Action.REMOVE, text, None, "generated, not edited"))
        elif request.force:
            changes.append(Change(path, Action.REMOVE, text, None, "edited by you: --force"))
        else:
            edited.append(name)
    if edited:
        raise OtpgenError(
            f"{', '.join(edited)} edited since otpgen wrote it: pass --force to remove "
            "your edits too, or delete what you want gone by hand"
        )
    renders = {key: r for key, r in manifest.renders.items() if key != owner}
    if APPLICATION_TEMPLATE in manifest.renders:
        change, left = _unwire(project, pattern, request.name, record.answers)
        if change is not None and change.new is not None:
            changes.append(change)
            renders = record_wired(renders, change.path, change.old, change.new)
        notes += left
    options = {k: v for k, v in record.answers.items() if k not in ("name", "package")}
    if needs := pattern.requirements(options):
        notes.append(
            f"pyproject.toml still depends on {', '.join(needs)}: remove it if nothing else "
            "imports it"
        )
    if needs := pattern.test_requirements(options):
        notes.append(
            f"pyproject.toml's test extra still names {', '.join(needs)}: remove it if no "
            "other test imports it"
        )
    return Plan(
        command="remove",
        root=project.root,
        changes=changes,
        manifest=Manifest(__version__, renders, manifest.formatter),
        previous=manifest,
        notes=notes,
        details={"pattern": pattern.name, "name": request.name, "package": project.package},
    )


def _unwire(
    project: Project, pattern: Pattern, name: str, answers: dict[str, object]
) -> tuple[Change | None, list[str]]:
    """The change taking the module out of application.py, and what is left to do by hand."""
    from otpgen._wire import NotWireable, Wiring, unwire

    options = {k: v for k, v in answers.items() if k not in ("name", "package")}
    wiring = pattern.wiring(project.package, name, class_name(name), options)
    if wiring is None:
        return None, []
    path = project.package_dir / "application.py"
    try:
        old = read_text(project.root / path, root=project.root)
        if old is None:
            return None, []
        imports, child, setup = wiring
        text, left = unwire(old, Wiring(imports, child, setup=setup))
    except (OSError, NotWireable) as exc:
        return None, [f"could not take {name} out of {path} ({exc}): remove its lines by hand"]
    notes = [f"{path}: {note}" for note in left]
    if text == old:
        return None, notes
    why = "taken out of the supervision tree" if wiring[1] else "its setup taken out of main()"
    return Change(path, Action.UPDATE, old, text, why), notes
