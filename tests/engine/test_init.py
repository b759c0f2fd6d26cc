"""`otpgen init`: a service repository, all or nothing."""

import json
from pathlib import Path, PurePosixPath

import pytest
from enginekit import snapshot

from otpgen import _apply
from otpgen._errors import OtpgenError
from otpgen._init import InitRequest, plan_init, service_context
from otpgen._plan import apply_plan
from otpgen._render import render_skeleton
from otpgen._templates import templates_dir

SERVICE = templates_dir() / "service"


def init(tmp_path: Path, **kwargs: object) -> Path:
    request = InitRequest(**{"cwd": tmp_path, **kwargs})
    plan = plan_init(request)
    apply_plan(plan)
    return plan.root


def test_init_writes_the_repository_around_a_supervision_tree(tmp_path: Path) -> None:
    root = init(tmp_path, directory=Path("billing-service"))
    assert root == tmp_path / "billing-service"
    for path in (
        "pyproject.toml",
        "README.md",
        ".gitignore",
        "noxfile.py",
        ".pre-commit-config.yaml",
        ".github/workflows/ci.yml",
        "src/billing_service/__init__.py",
        "src/billing_service/__main__.py",
        "src/billing_service/application.py",
        "src/billing_service/otp/_genserver.py",
        "tests/test_application.py",
    ):
        assert (root / path).is_file(), path
    pyproject = (root / "pyproject.toml").read_text()
    assert "dependencies = []" in pyproject
    assert 'package = "billing_service"' in pyproject
    assert "id: otpgen-check" in (root / ".pre-commit-config.yaml").read_text()
    renders = json.loads((root / ".otpgen/manifest.json").read_text())["renders"]
    assert set(renders) == {"application", "kernel", "service"}  # the skeleton is tracked too
    assert "pyproject.toml" in renders["service"]["files"]
    assert renders["application"]["answers"] == {
        "package": "billing_service",
        "project_name": "billing-service",
    }


def test_settings_fill_the_template_variables(tmp_path: Path) -> None:
    root = init(
        tmp_path,
        settings={"project_name": "Ledger", "package_name": "ledger_core", "author": "Ada"},
    )
    assert root == tmp_path / "ledger"
    assert (root / "src/ledger_core/application.py").is_file()
    assert 'authors = [{ name = "Ada" }]' in (root / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"nope": "1"}, "the template has no variable 'nope'"),
        ({"package_name": "asyncio"}, "shadows the standard library module"),
        ({"package_name": "Bad-Name"}, "expected a lowercase module name"),
        ({"project_slug": "Bad Slug"}, "expected project_slug to be lowercase"),
        ({"python_version": "3.9"}, "expected python_version to be 3.11 or newer"),
    ],
)
def test_bad_settings_are_one_line_errors_and_nothing_is_written(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    with pytest.raises(OtpgenError, match=message):
        init(tmp_path, directory=Path("svc"), settings=settings)
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_directory_is_refused_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "svc"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    with pytest.raises(OtpgenError, match="is not empty"):
        init(tmp_path, directory=Path("svc"))
    assert snapshot(target) == {"notes.txt": b"mine\n"}
    init(tmp_path, directory=Path("svc"), force=True)
    assert (target / "notes.txt").read_text() == "mine\n"
    assert (target / "pyproject.toml").is_file()


def test_force_never_overwrites_a_file(tmp_path: Path) -> None:
    target = tmp_path / "svc"
    target.mkdir()
    (target / "README.md").write_text("mine\n")
    with pytest.raises(OtpgenError, match=r"already has README\.md"):
        init(tmp_path, directory=Path("svc"), force=True)
    assert snapshot(target) == {"README.md": b"mine\n"}


def test_a_failure_midway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_init(InitRequest(directory=Path("svc"), cwd=tmp_path))
    real_write = _apply._write_new
    calls = 0

    def full_disk(path: Path, data: bytes, mode: int | None, flush: object = None) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:
            raise OSError(28, "No space left on device")
        real_write(path, data, mode, flush)

    monkeypatch.setattr(_apply, "_write_new", full_disk)
    with pytest.raises(OSError, match="No space left"):
        apply_plan(plan)
    assert list(tmp_path.iterdir()) == []


def test_the_built_in_skeleton_renders_exactly_as_cookiecutter_renders_it(
    tmp_path: Path,
) -> None:
    from cookiecutter.main import cookiecutter  # type: ignore[import-untyped]

    settings = {"project_name": "Billing Service", "author": "Ada"}
    context = service_context(SERVICE, settings)
    ours = render_skeleton(SERVICE, context)
    out = Path(
        cookiecutter(str(SERVICE), no_input=True, extra_context=context, output_dir=str(tmp_path))
    )
    theirs = {
        PurePosixPath(p.relative_to(out).as_posix()): p.read_text()
        for p in out.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts  # pip byte-compiles installed templates
    }
    assert ours == theirs


def _template_with_hook(tmp_path: Path) -> Path:
    template = tmp_path / "tpl"
    root = template / "{{cookiecutter.project_slug}}"
    (root / "src/{{cookiecutter.package_name}}").mkdir(parents=True)
    (root / "src/{{cookiecutter.package_name}}/__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "{{cookiecutter.project_slug}}"\n')
    (template / "cookiecutter.json").write_text(
        json.dumps({"project_slug": "svc", "package_name": "svc"})
    )
    (template / "hooks").mkdir()
    (template / "hooks/post_gen_project.py").write_text(
        "from pathlib import Path\nPath('HOOK_RAN').write_text('yes')\n"
    )
    return template


def test_a_user_templates_hooks_do_not_run_without_trust(tmp_path: Path) -> None:
    template = _template_with_hook(tmp_path)
    plan = plan_init(InitRequest(template=template, cwd=tmp_path / "out"))
    assert plan.details["hooks_skipped"]
    assert PurePosixPath("HOOK_RAN") not in {c.path for c in plan.changes}
    apply_plan(plan)
    assert (tmp_path / "out/svc/src/svc/application.py").is_file()
    assert (tmp_path / "out/svc/src/svc/otp/__init__.py").is_file()


def test_a_user_templates_hooks_run_with_trust(tmp_path: Path) -> None:
    template = _template_with_hook(tmp_path)
    plan = plan_init(InitRequest(template=template, trust=True, cwd=tmp_path / "out"))
    assert not plan.details["hooks_skipped"]
    assert {c.path: c.new for c in plan.changes}[PurePosixPath("HOOK_RAN")] == "yes"


@pytest.mark.parametrize(
    "description",
    ['He said "hi"', "back\\slash \\n \\u0041", "two\nlines", "tab\there 😀 it's <ok> & \\"],
)
def test_any_printable_description_makes_a_valid_pyproject_and_package(
    tmp_path: Path, description: str
) -> None:
    import ast
    import tomllib

    root = init(tmp_path, settings={"description": description, "author": 'A "B" \\C'})
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["description"] == description
    assert project["authors"] == [{"name": 'A "B" \\C'}]
    package = (root / "src/my_service/__init__.py").read_text()
    assert ast.get_docstring(ast.parse(package), clean=False) == description


@pytest.mark.parametrize(
    ("key", "value"),
    [("description", "bell\a"), ("author", "nul\0"), ("project_name", 'a """ b')],
)
def test_values_that_cannot_be_written_are_refused(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(OtpgenError, match=f"expected {key}"):
        plan_init(InitRequest(cwd=tmp_path, directory=Path("svc"), settings={key: value}))
    assert list(tmp_path.iterdir()) == []
