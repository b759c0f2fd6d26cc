"""`otpgen new`: request -> answers -> rendered tree -> formatted tree -> plan -> apply."""

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from otpgen import _manifest
from otpgen._apply import write_files
from otpgen._errors import OtpgenError
from otpgen._format import format_tree
from otpgen._manifest import Manifest, Render, digest
from otpgen._names import class_name, module_name
from otpgen._patterns import Pattern, find_pattern, load_patterns
from otpgen._plan import Action, Change, plan_files
from otpgen._project import Project, open_project
from otpgen._render import APPLICATION_TEMPLATE, KERNEL_TEMPLATE, Answers, FileTree
from otpgen._renders import overrides_dir, render_answers, render_kernel_record
from otpgen._templates import templates_dir
from otpgen._version import __version__
from otpgen._wire import NotWireable, Wiring, instructions, wire


@dataclass(frozen=True)
class NewRequest:
    """What the user asked `otpgen new` for, as typed on the command line."""

    pattern: str
    name: str | None = None
    package: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)
    force: bool = False
    overwrite_edited: bool = False
    wire: bool = True  # add the module to the service's application.py, if there is one


@dataclass(frozen=True)
class NewPlan:
    """Everything `apply_new` writes, decided before anything is written."""

    project: Project
    pattern: Pattern
    answers: Answers
    changes: list[Change]
    manifest: Manifest
    unwired: str | None = None  # the lines to add by hand when application.py has no list

    @property
    def module(self) -> Change:
        """The generated module's change."""
        return self.changes[0]


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """`["key=value", ...]` from repeated `--set`, or an error naming the bad one."""
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OtpgenError(f"expected --set key=value, got: {pair!r}")
        settings[key.strip()] = value
    return settings


def resolve_answers(pattern: Pattern, request: NewRequest, package: str) -> Answers:
    """Validated, typed answers for `pattern` (no disk access)."""
    name = module_name(request.name if request.name is not None else pattern.name)
    return Answers(
        pattern=pattern.name,
        name=name,
        class_name=class_name(name),
        package=package,
        options=pattern.resolve(request.settings),
    )


def plan_new(request: NewRequest, templates: Path | None = None) -> NewPlan:
    """Decide every write of `otpgen new`, or raise OtpgenError; writes nothing.

    `templates` defaults to the shipped ones (tests and `update` pass others).
    """
    templates = templates or templates_dir()
    pattern = find_pattern(load_patterns(templates), request.pattern)
    # Check what needs no disk first, so a bad name fails the same anywhere.
    module_name(request.name if request.name is not None else pattern.name)
    pattern.resolve(request.settings)
    project = open_project(request.cwd, request.package)
    answers = resolve_answers(pattern, request, project.package)
    manifest = _manifest.load(project.root, __version__)
    owner = f"{pattern.name}:{answers.name}"
    overrides = overrides_dir(project.root)

    rendered = render_answers(pattern, answers, project.package_dir, templates, overrides)
    tree: FileTree = rendered.tree
    kernel = render_kernel_record(templates, project.package, project.package_dir, overrides)
    kernel_tree = kernel.tree
    if KERNEL_TEMPLATE in manifest.renders:  # vendored earlier: `update` upgrades it
        kernel_tree = {p: t for p, t in kernel_tree.items() if not (project.root / p).exists()}
    formatted = format_tree({**tree, **kernel_tree}, project.root)

    changes = plan_files(
        project.root,
        {path: formatted[path] for path in tree},
        manifest,
        owner=owner,
        force=request.force or request.overwrite_edited,
        overwrite_edited=request.overwrite_edited,
    )
    changes += plan_files(
        project.root,
        {path: formatted[path] for path in kernel_tree},
        manifest,
        owner=KERNEL_TEMPLATE,
        force=request.force or request.overwrite_edited,
    )

    renders = dict(manifest.renders)
    renders[owner] = rendered.record(formatted)
    if kernel_tree:
        earlier = renders.get(KERNEL_TEMPLATE)
        fresh = {p.as_posix(): digest(formatted[p]) for p in kernel_tree}
        if earlier is None:
            renders[KERNEL_TEMPLATE] = Render(
                kernel.template, kernel.version, kernel.answers, fresh, kernel.shadows
            )
        else:  # restoring deleted files: the rest of the record stands
            renders[KERNEL_TEMPLATE] = Render(
                earlier.template,
                earlier.version,
                earlier.answers,
                {**earlier.files, **fresh},
                earlier.shadows,
            )
    unwired = None
    if request.wire and APPLICATION_TEMPLATE in manifest.renders:
        wired, unwired = _wire_application(project, pattern, answers)
        changes += wired
    return NewPlan(project, pattern, answers, changes, Manifest(__version__, renders), unwired)


def _wire_application(
    project: Project, pattern: Pattern, answers: Answers
) -> tuple[list[Change], str | None]:
    """The change that adds the new module to application.py, or the lines to add by hand."""
    wiring = pattern.wiring(answers.package, answers.name, answers.class_name, answers.options)
    if wiring is None:
        return [], None
    spec = Wiring(*wiring)
    path = project.package_dir / "application.py"
    try:
        old = (project.root / path).read_text(encoding="utf-8")
        text = format_tree({path: wire(old, spec)}, project.root)[path]
    except (OSError, NotWireable) as exc:
        return [], f"could not wire it into {path} ({exc}); {instructions(spec)}"
    if text == old:
        return [], None
    return [Change(path, Action.OVERWRITE, text, old, pristine=False)], None


def apply_new(plan: NewPlan) -> list[Change]:
    """Write the plan's files, their pristine bases and the manifest (last); return the
    changes that wrote something."""
    writes = [change for change in plan.changes if change.writes]
    if not writes:
        return []
    files = [(change.path, change.text) for change in writes]
    files += [(_manifest.BASES / c.path, c.text) for c in writes if c.pristine]
    files.append((_manifest.MANIFEST, plan.manifest.to_json()))
    write_files(plan.project.root, files)
    return writes


def kernel_vendored(changes: list[Change], package_dir: PurePosixPath) -> bool:
    """Whether these changes vendor the kernel (for the summary line)."""
    kernel = package_dir / "otp"
    return any(c.path.parent == kernel and c.action is Action.CREATE for c in changes)
