"""`otpgen new`: request -> answers -> rendered tree -> formatted tree -> plan (applied by
`_plan.apply_plan`)."""

from pathlib import Path, PurePosixPath

from otpgen import _manifest
from otpgen._apply import recover
from otpgen._errors import OtpgenError
from otpgen._files import read_text
from otpgen._format import formatter_fingerprint
from otpgen._instances import (
    Instance,
    format_renders,
    overrides_dir,
    render_answers,
    render_kernel_record,
)
from otpgen._manifest import Manifest, RenderRecord, digest, record_wired
from otpgen._names import check_render, clash_message, class_clash, class_name, module_name
from otpgen._patterns import Pattern, load_pattern
from otpgen._plan import Action, Change, Plan
from otpgen._project import Project, open_project, shadowing_package
from otpgen._record import field, frozen
from otpgen._render import APPLICATION_TEMPLATE, KERNEL_TEMPLATE, Answers, FileTree
from otpgen._templates import templates_dir
from otpgen._version import __version__


@frozen
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
        old = read_text(target, root=root)
        recorded = manifest.owner(path)
        if old is None:
            changes.append(Change(path, Action.CREATE, None, text))
            continue
        if old == text:
            changes.append(Change(path, Action.KEEP, old, old, "already as rendered"))
            continue
        if recorded is not None and recorded[0] != owner:
            raise OtpgenError(
                f"{path} was generated for {recorded[0]}; choose another name for this one"
            )
        if recorded is None:
            if not force:
                raise OtpgenError(
                    f"{path} already exists and otpgen did not write it; pass --force to "
                    "overwrite it"
                )
        elif digest(old) != recorded[1].files[path.as_posix()].sha:
            if not overwrite_edited:
                raise OtpgenError(
                    f"{path} was edited since otpgen wrote it; run `otpgen update` to merge "
                    "the new render into your edits, or pass --overwrite-edited to discard them"
                )
        elif not force:
            raise OtpgenError(
                f"{path} already exists (generated earlier); pass --force to render it again"
            )
        changes.append(Change(path, Action.UPDATE, old, text, "overwritten"))
    return changes


def _check_name(project: Project, manifest: Manifest, answers: Answers) -> None:
    """Refuse a name whose class or module would collide with what the project has."""
    taken = [
        str(r.answers["name"])
        for r in manifest.renders.values()
        if r.answers.get("package") == project.package and isinstance(r.answers.get("name"), str)
    ]
    if (other := class_clash(answers.name, taken)) is not None:
        raise OtpgenError(clash_message(answers.name, other))
    if (shadow := shadowing_package(project, answers.name)) is not None:
        raise OtpgenError(
            f"{shadow.as_posix()}/ exists: a package there would shadow {answers.name}.py; "
            "choose another name"
        )


def _kernel_key(manifest: Manifest, package: str) -> str:
    """The manifest key of `package`'s vendored kernel.

    Each package a module goes into gets its own kernel (`<package>/otp/`), rendered for
    that package, so each is recorded on its own: `kernel` for the first (as every project
    has it), `kernel:<package>` for the others. Recorded together, `update` would render the
    one package's kernel and drop the other's files as gone from the templates.
    """
    first = manifest.renders.get(KERNEL_TEMPLATE)
    if first is None or first.answers.get("package") == package:
        return KERNEL_TEMPLATE
    return f"{KERNEL_TEMPLATE}:{package}"


def _check_not_kernel(project: Project, manifest: Manifest) -> None:
    """Refuse a target package inside a vendored kernel: `update` owns those files."""
    for render in manifest.renders.values():
        if render.template != KERNEL_TEMPLATE or not render.files:
            continue
        kernel = min((PurePosixPath(f).parent for f in render.files), key=lambda d: len(d.parts))
        if kernel == project.package_dir or kernel in project.package_dir.parents:
            owner = render.answers.get("package")
            hint = f"pass --package {owner}" if isinstance(owner, str) else "pass --package"
            raise OtpgenError(
                f"package {project.package!r} is the vendored kernel ({kernel.as_posix()}/), "
                f"which otpgen rewrites on update; generate into your own package: {hint}"
            )


def plan_new(request: NewRequest, templates: Path | None = None) -> Plan:
    """Decide every write of `otpgen new`, or raise OtpgenError; writes nothing.

    `templates` defaults to the shipped ones (tests pass others).
    """
    templates = templates or templates_dir()
    pattern = load_pattern(templates, request.pattern)
    # Check what needs no disk first, so a bad name fails the same anywhere.
    module_name(request.name if request.name is not None else pattern.name)
    pattern.resolve(request.settings)
    project = open_project(request.cwd, request.package)
    notes = [note] if (note := recover(project.root)) else []
    answers = resolve_answers(pattern, request, project.package)
    manifest = _manifest.load(project.root, __version__)
    _check_not_kernel(project, manifest)
    owner = f"{pattern.name}:{answers.name}"
    _check_name(project, manifest, answers)
    overrides = overrides_dir(project.root)

    rendered: dict[str, Instance] = {
        owner: render_answers(pattern, answers, project.package_dir, templates, overrides)
    }
    check_render(answers.name, rendered[owner].tree)
    kernel = render_kernel_record(templates, project.package, project.package_dir, overrides)
    kernel_key = _kernel_key(manifest, project.package)
    earlier = manifest.renders.get(kernel_key)
    if earlier is not None:  # vendored earlier (`update` upgrades it): restore deleted files
        kernel = Instance(
            {p: t for p, t in kernel.tree.items() if not (project.root / p).exists()},
            earlier.template,
            earlier.version,
            earlier.answers,
            earlier.shadows,
        )
    if kernel.tree:
        rendered[kernel_key] = kernel
    formatted = format_renders(rendered, project.root)

    force = request.force or request.overwrite_edited
    changes = plan_files(
        project.root,
        formatted[owner],
        manifest,
        owner=owner,
        force=force,
        overwrite_edited=request.overwrite_edited,
    )
    renders = dict(manifest.renders)
    renders[owner] = rendered[owner].record(formatted[owner])
    if kernel.tree:
        changes += plan_files(
            project.root, formatted[kernel_key], manifest, owner=kernel_key, force=force
        )
        fresh = kernel.record(formatted[kernel_key])
        if earlier is not None:  # the rest of the record stands
            fresh = RenderRecord(
                earlier.template,
                earlier.version,
                earlier.answers,
                {**earlier.files, **fresh.files},
                earlier.shadows,
            )
        renders[kernel_key] = fresh
    bases = {digest(text): text for tree in formatted.values() for text in tree.values()}

    wiring = pattern.wiring(answers.package, answers.name, answers.class_name, answers.options)
    test = f"tests/test_{answers.name}.py"
    next_step = f"run `pytest {test}`"
    if wiring is not None and request.wire and APPLICATION_TEMPLATE in manifest.renders:
        last = _kept_last(templates, manifest, project.package)
        change, unwired = _wire_application(project, *wiring, last)
        if change is not None and change.new is not None:
            changes.append(change)
            renders = record_wired(renders, change.path, change.old, change.new)
        notes += [unwired] if unwired else []
    elif wiring is not None:
        _, child, setup = wiring
        where = [f"add {child} to your supervision tree"] if child else []
        where += [f"call {setup.strip()} first in main()"] if setup else []
        next_step = f"{'; '.join(where)}; {next_step}"
    requirements = pattern.requirements(answers.options)
    test_requirements = pattern.test_requirements(answers.options)
    if requirements or test_requirements:
        change, unadded = _add_requirements(project, requirements, test_requirements)
        if change is not None and change.new is not None:
            changes.append(change)
            renders = record_wired(renders, change.path, change.old, change.new)
        notes += unadded
    return Plan(
        command="new",
        root=project.root,
        changes=changes,
        manifest=Manifest(__version__, renders, formatter_fingerprint(project.root)),
        previous=manifest,
        bases=bases,
        notes=notes,
        details={
            "pattern": pattern.name,
            "name": answers.name,
            "package": project.package,
            "options": dict(answers.options),
            "module": changes[0].new or "",
        },
        next_step=next_step,
    )


def _kept_last(templates: Path, manifest: Manifest, package: str) -> tuple[str, ...]:
    """The child specs of the project's modules whose pattern stays last in the tree
    (`last = true` in its `[wire]`, such as web)."""
    found: list[str] = []
    for record in manifest.renders.values():
        directory = templates / "patterns" / record.template
        name = record.answers.get("name")
        if not isinstance(name, str) or not (directory / "pattern.toml").is_file():
            continue
        pattern = load_pattern(templates, record.template)
        if pattern.wire_last:
            options = {o.key: record.answers.get(o.key, o.default) for o in pattern.options}
            wiring = pattern.wiring(package, name, class_name(name), options)
            found += [wiring[1]] if wiring and wiring[1] else []
    return tuple(found)


def _wire_application(
    project: Project,
    imports: tuple[str, ...],
    child: str | None,
    setup: str | None,
    last: tuple[str, ...] = (),
) -> tuple[Change | None, str | None]:
    """The change that adds the new module to application.py, or the lines to add by hand.

    Only the inserted lines are new: the rest of the user's file is kept byte for byte.
    A child in `last` that ends the list stays at its end: the new one goes before it.
    """
    from otpgen._wire import NotWireable, Wiring, instructions, wire  # ast: only when wiring

    spec = Wiring(imports, child, last, setup)
    path = project.package_dir / "application.py"
    try:
        old = read_text(project.root / path, root=project.root)
        if old is None:
            raise NotWireable("it is not there")
        text = wire(old, spec)
    except (OSError, NotWireable) as exc:
        return None, f"could not wire it into {path} ({exc}); {instructions(spec)}"
    if text == old:
        return None, None
    why = "wired into the supervision tree" if child else "set up first in main()"
    return Change(path, Action.UPDATE, old, text, why), None


def _add_requirements(
    project: Project, requirements: tuple[str, ...], test_requirements: tuple[str, ...] = ()
) -> tuple[Change | None, list[str]]:
    """The change that adds what the module imports to the project's dependencies (and
    what its test imports to the `test` extra), and notes saying what to add by hand.

    Only the new elements are inserted; a distribution the project already names, in any
    version, is left as the user wrote it.
    """
    from otpgen._requires import NotAddable, add_requirements, missing

    path = PurePosixPath("pyproject.toml")
    unreadable: str | None = None
    try:
        old = read_text(project.root / path, root=project.root)
    except OSError as exc:
        old, unreadable = None, f"could not read {path} ({exc})"
    text, notes, added = old, [], []
    for wanted, extra in ((requirements, None), (test_requirements, "test")):
        if not wanted:
            continue
        listed = ", ".join(wanted)
        what = "[project] dependencies" if extra is None else f"the {extra} extra"
        whose = "your project's dependencies" if extra is None else f"your project's {extra} extra"
        by_hand = f"add {listed} to {whose}"
        if text is None:
            imports = "the module imports" if extra is None else "its test imports"
            notes.append(f"{unreadable or f'{imports} {listed}'}: {by_hand}")
            continue
        try:
            new_ones = missing(text, wanted, extra)
            text = add_requirements(text, wanted, extra)
        except NotAddable as exc:
            notes.append(f"could not add its dependencies to {path} ({exc}); {by_hand}")
            continue
        if new_ones:
            added.append(f"added {', '.join(new_ones)} to {what}")
    if text is None or text == old:
        return None, notes
    return Change(path, Action.UPDATE, old, text, "; ".join(added)), notes
