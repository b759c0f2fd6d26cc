"""Template instances: a template rendered with its answers, as the manifest records it.

An `Instance` is one pattern instance (`genserver:chat`), the kernel, the application or the
service skeleton: its rendered files (not yet formatted) plus the template, version, answers
and shadowed overrides the manifest records for it. `new` and `init` make instances from
answers; `update` and `check` make them again from the manifest with the templates installed
now, honouring the project's overrides in `.otpgen/templates/`.
"""

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen._errors import OtpgenError
from otpgen._files import brief
from otpgen._manifest import DIRECTORY, MANIFEST, FileRecord, RenderRecord, digest
from otpgen._names import class_name, module_name
from otpgen._patterns import Pattern
from otpgen._record import frozen
from otpgen._render import (
    APPLICATION_TEMPLATE,
    KERNEL_TEMPLATE,
    SERVICE_TEMPLATE,
    Answers,
    FileTree,
    application_sources,
    application_version,
    kernel_sources,
    pattern_sources,
    render_application,
    render_kernel,
    render_pattern,
    render_skeleton,
    skeleton_version,
    template_sha,
)


@frozen
class Instance:
    """A template rendered with its answers: its files (not yet formatted) and what the
    manifest records about it."""

    tree: FileTree
    template: str
    version: str
    answers: dict[str, Any]
    shadows: dict[str, str]

    def record(self, formatted: FileTree) -> RenderRecord:
        """The manifest entry for these files once formatted."""
        return RenderRecord(
            template=self.template,
            version=self.version,
            answers=self.answers,
            files={
                path.as_posix(): FileRecord(digest(formatted[path]), digest(text))
                for path, text in self.tree.items()
            },
            shadows=self.shadows,
        )


def overrides_dir(root: Path) -> Path | None:
    """The project's template overrides directory, if it has one."""
    directory = root / DIRECTORY / "templates"
    return directory if directory.is_dir() else None


def _sha(path: Path) -> str:
    return template_sha(path)


def _shadows(prefix: str, shipped: dict[str, Path], effective: dict[str, Path]) -> dict[str, str]:
    """The shipped templates an override replaces (`prefix/name`), with their hashes."""
    return {
        f"{prefix}/{name}": _sha(shipped[name])
        for name, path in effective.items()
        if path != shipped[name]
    }


def kernel_version(templates: Path) -> str:
    """A short content hash of the shipped kernel."""
    digest = hashlib.sha256()
    for name, path in kernel_sources(templates).items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def render_answers(
    pattern: Pattern,
    answers: Answers,
    package_dir: PurePosixPath,
    templates: Path,
    overrides: Path | None,
) -> Instance:
    """A pattern rendered with these answers."""
    sources = pattern_sources(pattern, overrides)
    shipped = {name: pattern.directory / name for name in sources}
    shadows = _shadows(f"patterns/{pattern.name}", shipped, sources)
    return Instance(
        tree=render_pattern(pattern, answers, package_dir, overrides),
        template=pattern.name,
        version=str(pattern.version),
        answers={"name": answers.name, "package": answers.package, **answers.options},
        shadows=shadows,
    )


def render_kernel_record(
    templates: Path, package: str, package_dir: PurePosixPath, overrides: Path | None
) -> Instance:
    """The kernel vendored into `package`."""
    shipped = kernel_sources(templates)
    effective = kernel_sources(templates, overrides)
    return Instance(
        tree=render_kernel(templates, package_dir, overrides),
        template=KERNEL_TEMPLATE,
        version=kernel_version(templates),
        answers={"package": package},
        shadows=_shadows("kernel/otp", shipped, effective),
    )


def render_application_record(
    templates: Path,
    package: str,
    project_name: str,
    package_dir: PurePosixPath,
    overrides: Path | None,
) -> Instance:
    """A service's application.py."""
    shipped = application_sources(templates, None)
    effective = application_sources(templates, overrides)
    return Instance(
        tree=render_application(templates, package, project_name, package_dir, overrides),
        template=APPLICATION_TEMPLATE,
        version=str(application_version(templates)),
        answers={"package": package, "project_name": project_name},
        shadows=_shadows("application", shipped, effective),
    )


def render_recorded(
    key: str,
    render: RenderRecord,
    patterns: dict[str, Pattern],
    templates: Path,
    package_dir: PurePosixPath,
    overrides: Path | None,
) -> Instance:
    """A recorded render, rendered again with the templates installed now.

    Options the templates added since take their defaults; options they dropped are
    forgotten.
    """
    if render.template == SERVICE_TEMPLATE:
        skeleton = templates / "service"
        context = {str(k): str(v) for k, v in render.answers.items()}
        return Instance(
            render_skeleton(skeleton, context),
            SERVICE_TEMPLATE,
            skeleton_version(skeleton),
            dict(render.answers),
            {},
        )
    package = _answer(key, render, "package")
    if render.template == KERNEL_TEMPLATE:
        return render_kernel_record(templates, package, package_dir, overrides)
    if render.template == APPLICATION_TEMPLATE:
        project_name = _answer(key, render, "project_name")
        return render_application_record(templates, package, project_name, package_dir, overrides)
    pattern = patterns.get(render.template)
    if pattern is None:
        raise OtpgenError(
            f"{key} was generated from the pattern {render.template!r}, which this otpgen "
            "no longer has; remove its entry from .otpgen/manifest.json to stop updating it"
        )
    name = _answer(key, render, "name")
    try:
        module_name(name)
        options = {
            o.key: o.parse(_as_typed(render.answers[o.key]), bounded=False)
            if o.key in render.answers
            else o.default
            for o in pattern.options
        }
    except OtpgenError as exc:
        raise OtpgenError(
            f"{MANIFEST} is damaged: the render {key!r} records a bad answer ({exc}); restore "
            "the file from version control"
        ) from None
    try:  # a template may bring a rule between options that earlier answers break
        pattern.verify(options, {o.key for o in pattern.options if o.key in render.answers})
    except OtpgenError as exc:
        raise OtpgenError(
            f"{key}: its recorded answers break a rule of the {pattern.name} template now "
            f"installed: {exc}; change the answer under renders.{key}.answers in {MANIFEST} "
            "and run the command again"
        ) from None
    answers = Answers(pattern.name, name, class_name(name), package, options)
    return render_answers(pattern, answers, package_dir, templates, overrides)


def _answer(key: str, render: RenderRecord, name: str) -> str:
    """A recorded answer that must be a non-empty string, or the manifest is damaged."""
    value = render.answers.get(name)
    if not isinstance(value, str) or not value:
        raise OtpgenError(
            f"{MANIFEST} is damaged: the render {key!r} has no {name!r} answer (got "
            f"{brief(value)}); restore the file from version control"
        )
    return value


def _as_typed(value: object) -> str:
    """A recorded option value as it would be typed after `--set key=`, to parse it again
    (so a value of the wrong type is caught, not rendered)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return repr(value)  # a list or an object: refused by every option's parser


def format_renders(renders: dict[str, Instance], root: Path) -> dict[str, FileTree]:
    """Each render's files formatted with the project's ruff (one ruff pass for all of them);
    files that are not Python are left as rendered."""
    from otpgen._format import format_tree

    python = {p: t for r in renders.values() for p, t in r.tree.items() if p.suffix == ".py"}
    formatted = format_tree(python, root)
    return {
        key: {path: formatted.get(path, text) for path, text in r.tree.items()}
        for key, r in renders.items()
    }
