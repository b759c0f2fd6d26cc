"""A pattern's `[dependencies]`: what a render imports for an option value (a server
backend's client library) is inserted into the project's `[project] dependencies` by
`otpgen new`, one element, no other byte changed; where that cannot be done safely the file
is left alone and the user is told what to add."""

import string
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otpgen._errors import OtpgenError
from otpgen._generate import NewRequest, plan_new
from otpgen._patterns import load_pattern
from otpgen._plan import apply_plan
from otpgen._requires import NotAddable, add_requirements, distribution, missing

DEPENDENCIES = """
[options.backend]
type = "choice"
choices = ["memory", "redis"]
default = "memory"
help = "Where the state lives."

[dependencies]
"backend=redis" = ["redis>=5", "hiredis>=2"]
"""


@pytest.fixture
def backed(templates: Path) -> Path:
    """The demo pattern with a `backend` option whose redis value needs two requirements."""
    toml = templates / "patterns/demo/pattern.toml"
    toml.write_text(toml.read_text() + DEPENDENCIES)
    return templates


def deps(text: str) -> list[str]:
    return list(tomllib.loads(text)["project"]["dependencies"])


def test_the_pattern_lists_requirements_only_for_the_value_that_needs_them(backed: Path) -> None:
    pattern = load_pattern(backed, "demo")
    assert pattern.requirements({}) == ()
    assert pattern.requirements({"backend": "memory"}) == ()
    assert pattern.requirements({"backend": "redis"}) == ("redis>=5", "hiredis>=2")


def test_always_requirements_come_with_every_render_before_an_options(templates: Path) -> None:
    toml = templates / "patterns/demo/pattern.toml"
    always = DEPENDENCIES.replace("[dependencies]\n", '[dependencies]\nalways = ["attrs>=23"]\n')
    toml.write_text(toml.read_text() + always)
    pattern = load_pattern(templates, "demo")
    assert pattern.requirements({}) == ("attrs>=23",)
    assert pattern.requirements({"backend": "redis"}) == ("attrs>=23", "redis>=5", "hiredis>=2")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('"backend" = ["redis>=5"]', "expected `<option>=<value>`"),
        ('"nope=redis" = ["redis>=5"]', "expected `<option>=<value>`"),
        ('"backend=mongo" = ["redis>=5"]', "expected backend to be one of memory, redis"),
        ('"backend=redis" = []', "expected a list of requirements"),
        ('"backend=redis" = "redis>=5"', "expected a list of requirements"),
        ('"backend=redis" = [">=5"]', "not a requirement"),
    ],
)
def test_a_malformed_dependencies_entry_is_an_invalid_pattern(
    templates: Path, entry: str, problem: str
) -> None:
    toml = templates / "patterns/demo/pattern.toml"
    head = DEPENDENCIES.split("[dependencies]")[0]
    toml.write_text(toml.read_text() + head + "[dependencies]\n" + entry + "\n")
    with pytest.raises(OtpgenError, match="dependencies") as caught:
        load_pattern(templates, "demo")
    assert problem in str(caught.value)


def test_new_with_the_backend_adds_its_requirements_and_says_so(
    project: Path, backed: Path
) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[project]\n", "[project]\ndependencies = []\n")
    )
    before = pyproject.read_text()
    request = NewRequest(pattern="demo", name="chat", cwd=project, settings={"backend": "redis"})
    plan = plan_new(request, backed)
    change = next(c for c in plan.changes if c.path.as_posix() == "pyproject.toml")
    assert change.why == "added redis>=5, hiredis>=2 to [project] dependencies"
    apply_plan(plan)
    after = pyproject.read_text()
    assert deps(after) == ["redis>=5", "hiredis>=2"]
    assert after == before.replace("dependencies = []", 'dependencies = ["redis>=5", "hiredis>=2"]')


def test_new_with_the_default_backend_leaves_pyproject_alone(project: Path, backed: Path) -> None:
    before = (project / "pyproject.toml").read_bytes()
    apply_plan(plan_new(NewRequest(pattern="demo", name="chat", cwd=project), backed))
    assert (project / "pyproject.toml").read_bytes() == before


def test_a_project_without_a_dependencies_array_is_told_what_to_add(
    project: Path, backed: Path
) -> None:
    before = (project / "pyproject.toml").read_bytes()
    request = NewRequest(pattern="demo", name="chat", cwd=project, settings={"backend": "redis"})
    plan = plan_new(request, backed)
    apply_plan(plan)
    assert (project / "pyproject.toml").read_bytes() == before
    assert any("add redis>=5, hiredis>=2 to your project's dependencies" in n for n in plan.notes)


def test_a_distribution_already_named_keeps_the_users_version(project: Path, backed: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[project]\n", '[project]\ndependencies = [\n    "Redis[hiredis]==5.0.1",\n]\n'
        )
    )
    request = NewRequest(pattern="demo", name="chat", cwd=project, settings={"backend": "redis"})
    apply_plan(plan_new(request, backed))
    assert deps(pyproject.read_text()) == ["Redis[hiredis]==5.0.1", "hiredis>=2"]


def test_distribution_names_are_normalised() -> None:
    assert distribution("Redis[hiredis]>=5") == "redis"
    assert distribution("Foo_Bar.baz ; python_version>'3'") == "foo-bar-baz"
    assert missing('[project]\ndependencies = ["foo-bar"]\n', ["FOO_BAR>=1", "x"]) == ["x"]


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        ("[]", '["redis>=5"]'),
        ("[ ]", '["redis>=5"]'),
        ('["a"]', '["a", "redis>=5"]'),
        ('["a", "b",]', '["a", "b", "redis>=5"]'),
        ("['a']", "['a', \"redis>=5\"]"),
        ('[\n    "a",\n]', '[\n    "a",\n    "redis>=5",\n]'),
        ('[\n  "a"\n]', '[\n  "a",\n  "redis>=5",\n]'),
        ('[\n    "a",  # why\n]', '[\n    "a",  # why\n    "redis>=5",\n]'),
        ('[\n    "a"  # why ]\n]', '[\n    "a",  # why ]\n    "redis>=5",\n]'),
        ('[\n    "a]",\n    # "later"\n]', '[\n    "a]",\n    # "later"\n    "redis>=5",\n]'),
        ("[\n]", '[\n    "redis>=5",\n]'),
    ],
)
def test_only_the_new_element_is_inserted(array: str, expected: str) -> None:
    text = f'[project]\nname = "x"\ndependencies = {array}\n\n[tool.x]\ndependencies = []\n'
    assert add_requirements(text, ["redis>=5"]) == text.replace(array, expected, 1)


@pytest.mark.parametrize(
    "text",
    [
        "[project]\nname = 'x'\n",  # no array
        "[tool.x]\ndependencies = []\n",  # no [project]
        "[project]\ndependencies = [\n    'a']\n",  # bracket shares a line
        "[project]\ndependencies = [\n",  # not TOML
        'project.dependencies = ["a"]\n',  # dotted keys
    ],
)
def test_an_array_it_cannot_extend_safely_is_refused(text: str) -> None:
    with pytest.raises(NotAddable):
        add_requirements(text, ["redis>=5"])


_names = st.text(string.ascii_lowercase + "-", min_size=1, max_size=8).filter(
    lambda s: s[0] != "-" and s[-1] != "-"
)


@given(
    existing=st.lists(_names, max_size=4, unique=True),
    added=st.lists(_names, min_size=1, max_size=3, unique=True),
    multiline=st.booleans(),
    trailing=st.booleans(),
    indent=st.sampled_from(["  ", "    ", "\t"]),
    comment=st.booleans(),
)
def test_any_array_gains_exactly_the_missing_requirements(
    existing: list[str],
    added: list[str],
    multiline: bool,
    trailing: bool,
    indent: str,
    comment: bool,
) -> None:
    items = [f'"{name}>=1"' for name in existing]
    if multiline:
        body = ",\n".join(f"{indent}{i}" for i in items)
        body += ("," if trailing and items else "") + ("  # pinned" if comment and items else "")
        array = f"[\n{body}\n]" if items else "[\n]"
    else:
        array = "[" + ", ".join(items) + ("," if trailing and items else "") + "]"
    text = f'# top\n[project]\nname = "x"\ndependencies = {array}\n\n[tool.ruff]\nx = 1\n'
    wanted = [f"{name}>=2" for name in added]
    new = add_requirements(text, wanted)
    fresh = [w for w in wanted if w.split(">")[0] not in existing]
    assert deps(new) == [f"{name}>=1" for name in existing] + fresh
    assert new.startswith(text[: text.index("dependencies")])
    assert new.endswith(text[text.index("\n\n[tool.ruff]") :])
    assert add_requirements(new, wanted) == new  # a second run adds nothing
