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
# The versions the generated pyproject.toml can name: ruff's `target-version` (`py311` ..
# `py314`) refuses any other, and so would fail formatting the new project.
PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14")


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
            if key == "project_slug" and not _SLUG.fullmatch(context[key]):
                context[key] = _fold_slug(context[key])
    return context


def _fold_slug(raw: str) -> str:
    """A slug made from a project name the user typed, which may hold any character:
    accents folded to ASCII (`Café` -> `cafe`, `Straße` -> `strasse`), anything else that
    cannot be in a slug dropped (`Acme's` -> `acmes`), runs of `-` made one and none left
    at either end. It may still be empty (a name in another script): `_validate` then says
    what to set."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", raw.casefold())  # casefold: `ß` -> `ss`
    ascii_ = folded.encode("ascii", "ignore").decode()
    kept = re.sub(r"[^a-z0-9-]", "", ascii_.replace(" ", "-").replace("_", "-"))
    return re.sub(r"-{2,}", "-", kept).strip("-")


def _validate(context: dict[str, str], given: set[str]) -> None:
    """Refuse a value the template cannot render a working project from; `given` are the
    variables the user set (the others are made from them, and the message says so)."""
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
        if "project_slug" not in given:
            raise OtpgenError(
                f"could not make a project_slug from project_name {brief(name)} (got: "
                f"{slug!r}); pass --set project_slug=NAME (lowercase letters, digits and -)"
            )
        raise OtpgenError(
            f"expected project_slug to be lowercase letters, digits and -, got: {slug!r}"
        )
    version = context.get("python_version")
    if version is not None and version not in PYTHON_VERSIONS:
        raise OtpgenError(
            f"expected python_version to be 3.11 or newer, one of {', '.join(PYTHON_VERSIONS)} "
            f"(the versions ruff's target-version knows), got: {version!r}"
        )
    if "package_name" in context:
        try:
            module_name(context["package_name"])
        except OtpgenError as exc:
            if "package_name" in given:
                raise
            raise OtpgenError(
                f"package_name {context['package_name']!r}, made from the project name, "
                f"cannot be used: {exc}; pass --set package_name=NAME"
            ) from None


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


# The tools and test libraries a generated project may run (its noxfile, CI and pre-commit
# hook, a property test) beside what its pyproject.toml lists: a package of the same name
# would be imported in their place.
_TOOLS = ("pytest", "hypothesis", "mypy", "ruff", "nox", "otpgen", "pip", "setuptools")


def _requirement_modules(requirement: str) -> tuple[str, ...]:
    """The import names a requirement may take (`pytest-asyncio>=0.24` -> `pytest_asyncio`
    and `pytest`; `opentelemetry-api` -> `opentelemetry_api` and `opentelemetry`)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        return ()
    name = re.sub(r"[-.]+", "_", match.group(1).lower())
    return (name, name.split("_")[0])


def _project_requirements(tree: FileTree) -> dict[str, str]:
    """What the rendered pyproject.toml lists, by import name, with where it lists it."""
    text = tree.get(PurePosixPath("pyproject.toml"))
    if text is None:
        return {}
    import tomllib

    data = tomllib.loads(text)  # valid: `_check_pyproject` said so
    project = _object(data.get("project"))
    groups: dict[str, object] = {
        "build-system requires": _object(data.get("build-system")).get("requires"),
        "dependencies": project.get("dependencies"),
    }
    for extra, listed in _object(project.get("optional-dependencies")).items():
        groups[f"{extra} extra"] = listed
    found: dict[str, str] = {}
    for where, listed in groups.items():
        for requirement in listed if isinstance(listed, list) else []:
            for module in _requirement_modules(str(requirement)):
                found.setdefault(module, f"{requirement} in its {where}")
    return found


def _object(value: object) -> dict[str, Any]:
    """A TOML table, or an empty one for anything else (a template's odd pyproject.toml)."""
    return value if isinstance(value, dict) else {}


def _pattern_requirements(templates: Path) -> dict[str, str]:
    """What `otpgen new` may add to the project's requirements, by import name."""
    from otpgen._patterns import load_patterns

    found: dict[str, str] = {}
    for name, pattern in load_patterns(templates).items():
        for _, _, requirements in (*pattern.dependencies, *pattern.test_dependencies):
            for requirement in requirements:
                for module in _requirement_modules(requirement):
                    found.setdefault(module, f"{requirement}, which the {name} pattern adds")
    return found


def _check_package(package: str, tree: FileTree, templates: Path) -> None:
    """Refuse a package that would shadow what the generated project imports or runs.

    Its `src/` is on the path of the project's tests and mypy: a package named `pytest`
    would be imported instead of pytest itself (the stdlib is refused with the NAME rules).
    """
    top = package.split(".")[0]
    reasons = {tool: f"{tool}, which the project's checks or tests may use" for tool in _TOOLS}
    reasons = {**_pattern_requirements(templates), **reasons, **_project_requirements(tree)}
    if top in reasons:
        raise OtpgenError(
            f"package_name {top!r} would shadow {reasons[top]}; choose another with "
            "--set package_name=NAME"
        )


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
    _validate(context, set(settings) - {"otpgen_version"})
    if request.template is None:
        tree, skipped = render_skeleton(source, context), False
    else:
        tree, skipped = _cookiecutter(source, context, request.trust)
    _check_pyproject(tree)
    package, package_dir = _package(tree, context)
    _check_package(package, tree, templates)
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
