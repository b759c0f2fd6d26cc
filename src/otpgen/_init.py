"""`otpgen init`: a service repository around an application supervision tree.

The repository skeleton is a cookiecutter template (`templates/service/`, or the user's own
with `--template`). The kernel and `<package>/application.py` then go through otpgen's own
pipeline, so `otpgen update` upgrades them like any generated file. Everything is planned in
memory and written all or nothing: a failure leaves no directory behind.
"""

import json
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen import _manifest
from otpgen._apply import recover, recover_fresh
from otpgen._errors import OtpgenError
from otpgen._files import brief
from otpgen._format import formatter_fingerprint
from otpgen._instances import (
    Instance,
    format_renders,
    overrides_dir,
    render_answers,
    render_application_record,
    render_kernel_record,
)
from otpgen._manifest import JOURNAL, Manifest, digest
from otpgen._names import module_name
from otpgen._plan import Action, Change, Plan
from otpgen._record import field, frozen
from otpgen._render import (
    APPLICATION_TEMPLATE,
    KERNEL_TEMPLATE,
    SERVICE_TEMPLATE,
    FileTree,
    cookiecutter_env,
    render_skeleton,
    skeleton_version,
)
from otpgen._templates import templates_dir
from otpgen._version import __version__

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_PYTHON = re.compile(r"3\.(1[1-9]|[2-9][0-9])")


@frozen
class InitRequest:
    """What the user asked `otpgen init` for."""

    directory: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)
    template: Path | None = None
    trust: bool = False
    force: bool = False  # allow a non-empty directory (existing files are never overwritten)
    web: bool = False  # add the web child with its defaults, as `otpgen new web` does


def template_variables(template: Path) -> dict[str, Any]:
    """The variables of a cookiecutter template, with their raw defaults, in order."""
    try:
        data = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OtpgenError(f"{template} is not a cookiecutter template: {exc}") from None
    if not isinstance(data, dict):
        raise OtpgenError(f"{template}/cookiecutter.json must hold an object")
    return data


def service_context(template: Path, settings: dict[str, str]) -> dict[str, str]:
    """Every variable's value: the setting where given, else its default rendered in order."""
    variables = template_variables(template)
    unknown = sorted(set(settings) - set(variables))
    if unknown:
        raise OtpgenError(
            f"the template has no variable {unknown[0]!r}; its variables: {', '.join(variables)}"
        )
    env = cookiecutter_env()
    context: dict[str, str] = {}
    for key, default in variables.items():
        if key in settings:
            context[key] = settings[key]
        elif isinstance(default, list):
            context[key] = str(default[0])
        else:
            context[key] = env.from_string(str(default)).render(cookiecutter=context)
    return context


def _validate(context: dict[str, str]) -> None:
    for key, value in context.items():
        if any(not c.isprintable() and c not in "\n\t" for c in value):
            raise OtpgenError(
                f"expected {key} to be printable text (newlines and tabs allowed), got: "
                f"{brief(value)}"
            )
    name = context.get("project_name", "")
    if "\n" in name or "\\" in name or '"""' in name:
        raise OtpgenError(
            f"expected project_name on one line, without backslashes or triple quotes (it "
            f"goes into docstrings), got: {brief(name)}"
        )
    slug = context.get("project_slug")
    if slug is not None and not _SLUG.fullmatch(slug):
        raise OtpgenError(
            f"expected project_slug to be lowercase letters, digits and -, got: {slug!r}"
        )
    version = context.get("python_version")
    if version is not None and not _PYTHON.fullmatch(version):
        raise OtpgenError(f"expected python_version to be 3.11 or newer, got: {version!r}")
    if "package_name" in context:
        module_name(context["package_name"])


def _cookiecutter(template: Path, context: dict[str, str], trust: bool) -> tuple[FileTree, bool]:
    """A user's cookiecutter template, rendered by cookiecutter itself (hooks only if trusted)."""
    from cookiecutter.main import cookiecutter  # type: ignore[import-untyped]

    hooks = (template / "hooks").is_dir() and any((template / "hooks").iterdir())
    with tempfile.TemporaryDirectory(prefix="otpgen-init-") as tmp:
        try:
            out = Path(
                cookiecutter(
                    str(template),
                    no_input=True,
                    extra_context=context,
                    output_dir=tmp,
                    accept_hooks=trust,
                )
            )
        except Exception as exc:  # cookiecutter raises many types; report it as one line
            raise OtpgenError(f"the template {template} failed to render: {exc}") from None
        tree: FileTree = {}
        for p in sorted(out.rglob("*")):
            if not p.is_file() or "__pycache__" in p.parts:
                continue
            try:
                tree[PurePosixPath(p.relative_to(out).as_posix())] = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise OtpgenError(
                    f"the template renders a binary file, {p.relative_to(out)}: otpgen init "
                    "handles text files only"
                ) from None
    return tree, hooks and not trust


def _package(tree: FileTree, context: dict[str, str]) -> tuple[str, PurePosixPath]:
    package = context.get("package_name")
    if package is not None:
        return package, PurePosixPath("src", *package.split("."))
    found = sorted(
        p.parent
        for p in tree
        if p.name == "__init__.py" and len(p.parts) == 3 and p.parts[0] == "src"
    )
    if len(found) != 1:
        raise OtpgenError("the template must render exactly one package under src/")
    return found[0].name, found[0]


def _settled(target: Path) -> list[str]:
    """Clean up after an interrupted `init` of `target`; say what was done."""
    notes = [note] if (note := recover_fresh(target)) else []
    if (target / JOURNAL).exists():  # an `init --force` into an existing directory
        notes += [note] if (note := recover(target)) else []
    return notes


def _check_pyproject(tree: FileTree) -> None:
    text = tree.get(PurePosixPath("pyproject.toml"))
    if text is None:
        return
    import tomllib

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OtpgenError(
            f"the template renders an invalid pyproject.toml ({exc}); check the values given "
            "with --set"
        ) from None


def _already(target: Path, written: FileTree) -> bool:
    """Whether `target` holds what an earlier, finished `init` with the same answers wrote."""
    try:
        return all(
            (target / path).read_text(encoding="utf-8") == text for path, text in written.items()
        )
    except (OSError, UnicodeDecodeError):
        return False


WEB = "web"
"""The pattern `otpgen init --web` adds, under its own name."""


def _web_instance(
    request: InitRequest,
    templates: Path,
    package: str,
    package_dir: PurePosixPath,
    overrides: Path | None,
) -> tuple[str, Instance] | None:
    """The web pattern's render for `init --web` (its manifest key and instance), or None."""
    if not request.web:
        return None
    from otpgen._names import class_name
    from otpgen._patterns import load_pattern
    from otpgen._render import Answers

    pattern = load_pattern(templates, WEB)
    options = pattern.resolve({})
    answers = Answers(
        pattern=WEB, name=WEB, class_name=class_name(WEB), package=package, options=options
    )
    return f"{WEB}:{WEB}", render_answers(pattern, answers, package_dir, templates, overrides)


def _with_web(
    templates: Path,
    web: Instance,
    written: dict[PurePosixPath, str],
    package: str,
    package_dir: PurePosixPath,
) -> dict[PurePosixPath, str]:
    """application.py with the web child wired in, pyproject.toml with its requirements:
    the files `otpgen new web` would change, changed the same way."""
    from otpgen._names import class_name
    from otpgen._patterns import load_pattern
    from otpgen._requires import NotAddable, add_requirements
    from otpgen._wire import NotWireable, Wiring, wire

    pattern = load_pattern(templates, WEB)
    options = {o.key: web.answers[o.key] for o in pattern.options}
    changed: dict[PurePosixPath, str] = {}
    wiring = pattern.wiring(package, WEB, class_name(WEB), options)
    application = package_dir / "application.py"
    if wiring is not None and application in written:
        try:
            imports, child, setup = wiring
            changed[application] = wire(written[application], Wiring(imports, child, setup=setup))
        except NotWireable as exc:
            raise OtpgenError(f"--web: could not wire it into {application} ({exc})") from None
    pyproject = PurePosixPath("pyproject.toml")
    if requirements := pattern.requirements(options):
        try:
            changed[pyproject] = add_requirements(written[pyproject], requirements)
        except (KeyError, NotAddable) as exc:
            raise OtpgenError(
                f"--web: could not add {', '.join(requirements)} to pyproject.toml ({exc})"
            ) from None
    return changed


def plan_init(request: InitRequest, templates: Path | None = None) -> Plan:
    """Decide every write of `otpgen init`, or raise OtpgenError; writes nothing."""
    templates = templates or templates_dir()
    source = request.template.resolve() if request.template else templates / "service"
    settings = dict(request.settings)
    if request.directory is not None and "project_name" not in settings:
        settings["project_name"] = request.directory.resolve().name
    variables = template_variables(source)
    if "otpgen_version" in variables:
        settings["otpgen_version"] = __version__
    context = service_context(source, settings)
    _validate(context)
    if request.template is None:
        tree, skipped = render_skeleton(source, context), False
    else:
        tree, skipped = _cookiecutter(source, context, request.trust)
    _check_pyproject(tree)
    if request.directory is not None:
        target = (request.cwd / request.directory).resolve()
    else:
        target = (request.cwd / context.get("project_slug", "service")).resolve()
    if target.exists() and not target.is_dir():
        raise OtpgenError(f"{target} exists and is not a directory")
    notes = _settled(target)
    fresh = not target.exists() or not any(target.iterdir())
    if not fresh and not (target / _manifest.MANIFEST).is_file():
        if not request.force:
            raise OtpgenError(
                f"{target} is not empty; choose a new or empty directory, or pass --force "
                "(existing files are never overwritten)"
            )
        taken = sorted(p.as_posix() for p in tree if (target / p).exists())
        if taken:
            raise OtpgenError(f"{target} already has {', '.join(taken[:3])}; nothing was written")

    package, package_dir = _package(tree, context)
    with tempfile.TemporaryDirectory(prefix="otpgen-init-") as tmp:
        staging = Path(tmp)
        (staging / "pyproject.toml").write_text(tree.get(PurePosixPath("pyproject.toml"), ""))
        overrides = overrides_dir(target)
        rendered = {
            KERNEL_TEMPLATE: render_kernel_record(templates, package, package_dir, overrides),
            APPLICATION_TEMPLATE: render_application_record(
                templates, package, context.get("project_name", package), package_dir, overrides
            ),
        }
        web = _web_instance(request, templates, package, package_dir, overrides)
        if web is not None:
            rendered[web[0]] = web[1]
        if request.template is None:  # the built-in skeleton is upgraded by `update` too
            rendered[SERVICE_TEMPLATE] = Instance(
                tree, SERVICE_TEMPLATE, skeleton_version(source), dict(context), {}
            )
        else:  # a user's template: otpgen does not know how to render it again
            rendered["skeleton"] = Instance(tree, "skeleton", "0", {}, {})
        formatted = format_renders(rendered, staging)
        formatter = formatter_fingerprint(staging)
    renders = {key: r.record(formatted[key]) for key, r in rendered.items() if key != "skeleton"}
    written = {path: text for tree_ in formatted.values() for path, text in tree_.items()}
    if web is not None:  # as `otpgen new web` would change them, and recorded so
        for path, text in _with_web(templates, web[1], written, package, package_dir).items():
            renders = _manifest.record_wired(renders, path, written[path], text)
            written[path] = text
    changes = [Change(path, Action.CREATE, None, text) for path, text in written.items()]
    bases = {
        digest(text): text
        for key, tree_ in formatted.items()
        if key != "skeleton"
        for text in tree_.values()
    }
    where = os.path.relpath(target, request.cwd)
    previous = Manifest(__version__)
    if not fresh and (target / _manifest.MANIFEST).is_file():
        # Only the very same init, run to its end before (its output lost to a crash, say),
        # may be run again: it writes nothing. Anything else in a generated project is refused.
        if not _already(target, written):
            raise OtpgenError(
                f"{target} already holds a project made by otpgen; use `otpgen update` there, "
                "or choose a new directory"
            )
        previous = _manifest.load(target, __version__)
        why = "already as `otpgen init` writes it"
        changes = [Change(c.path, Action.KEEP, c.new, c.new, why) for c in changes]
    return Plan(
        command="init",
        root=target,
        changes=sorted(changes, key=lambda c: c.path.as_posix()),
        manifest=Manifest(__version__, renders, formatter),
        previous=previous,
        bases=bases,
        notes=notes,
        details={"package": package, "hooks_skipped": skipped, "where": f"{where}/"},
        next_step=f"cd {where} && otpgen new genserver NAME  (or: otpgen advise)",
        fresh=fresh,
    )
