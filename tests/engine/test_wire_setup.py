"""A module with a setup statement instead of a child (tracing's `install()`): wiring
inserts the statement first in main(), before the tree starts, and its import; unwiring
takes exactly those lines out again; `new` and `remove` do both, and add and name what
the module and its test import."""

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from otpgen._generate import NewRequest, plan_new
from otpgen._init import InitRequest, plan_init
from otpgen._patterns import load_pattern
from otpgen._plan import apply_plan
from otpgen._remove import RemoveRequest, plan_remove
from otpgen._requires import NotAddable, add_requirements, missing
from otpgen._templates import templates_dir
from otpgen._update import check
from otpgen._wire import NotWireable, Wiring, instructions, unwire, wire

APP = '''"""The application."""

from shop import otp


def children() -> list[otp.ChildSpec]:
    """The children."""
    return []


def main() -> int:
    """Run it."""
    return otp.run(children())
'''

TRACING = Wiring(("from shop import tracing",), None, setup="tracing.install()")


def test_the_setup_goes_first_in_main_after_its_docstring_with_its_import() -> None:
    assert wire(APP, TRACING) == APP.replace(
        "from shop import otp\n", "from shop import otp, tracing\n"
    ).replace('"""Run it."""\n', '"""Run it."""\n    tracing.install()\n')


def test_wiring_the_setup_twice_adds_it_once() -> None:
    once = wire(APP, TRACING)
    assert wire(once, TRACING) == once


def test_without_a_docstring_it_goes_above_the_first_statement_and_its_comments() -> None:
    mine = APP.replace('    """Run it."""\n', "    # start the tree\n")
    text = wire(mine, TRACING)
    assert "def main() -> int:\n    tracing.install()\n    # start the tree\n" in text


def test_a_later_setup_goes_after_the_earlier_ones() -> None:
    other = Wiring(("from shop import metrics",), None, setup="metrics.install()")
    text = wire(wire(APP, TRACING), other)
    assert '"""Run it."""\n    metrics.install()\n    tracing.install()\n' in text


def test_a_child_and_a_setup_go_in_together() -> None:
    both = Wiring(("from shop import web",), "web.child_spec()", setup="web.install()")
    text = wire(APP, both)
    assert "return [\n        web.child_spec(),\n    ]" in text
    assert '"""Run it."""\n    web.install()\n' in text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (APP.replace("def main()", "def run()"), "no function main() at the top level"),
        (
            APP.replace('    """Run it."""\n    return', "    return"),
            None,  # no docstring: fine
        ),
        (
            APP.replace('    """Run it."""\n    return otp.run(children())', '    """Run it."""'),
            "main() has no statement to put the setup before",
        ),
        (
            APP.replace(
                '    """Run it."""\n    return otp.run(children())',
                '    """Run it."""; return otp.run(children())',
            ),
            "main()'s docstring shares its line with code",
        ),
    ],
)
def test_a_main_it_cannot_insert_into_is_refused_untouched(text: str, problem: str | None) -> None:
    if problem is None:
        assert "    tracing.install()\n" in wire(text, TRACING)
        return
    with pytest.raises(NotWireable, match=problem.replace("(", r"\(").replace(")", r"\)")):
        wire(text, TRACING)


def test_the_instructions_say_where_the_setup_goes() -> None:
    said = instructions(TRACING)
    assert "from shop import tracing" in said
    assert "first in main(), before the tree starts:\n    tracing.install()" in said
    assert "children()" not in said


def test_unwire_gives_back_the_file_as_it_was() -> None:
    text, left = unwire(wire(APP, TRACING), TRACING)
    assert (text, left) == (APP, [])


def test_unwire_leaves_a_moved_setup_and_says_so() -> None:
    moved = (
        wire(APP, TRACING)
        .replace("    tracing.install()\n", "")
        .replace("def children()", "tracing.install()\n\n\ndef children()")
    )
    text, left = unwire(moved, TRACING)
    assert text == moved
    assert "no tracing.install() was found in main()" in left
    assert any("tracing is still used" in note for note in left)


# The shipped tracing pattern, end to end in a service.

APPLICATION = "src/shop/application.py"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("svc")
    plan = plan_init(InitRequest(cwd=base, directory=Path("shop")))
    apply_plan(plan)
    return plan.root


@pytest.fixture
def service(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(pristine, root)
    return root


def test_the_tracing_pattern_asks_for_the_api_always_and_the_sdk_for_its_test() -> None:
    pattern = load_pattern(templates_dir(), "tracing")
    for info in (True, False):
        assert pattern.requirements({"info": info}) == ("opentelemetry-api>=1.20",)
        assert pattern.test_requirements({"info": info}) == ("opentelemetry-sdk>=1.20",)
    assert pattern.wiring("shop", "tracing", "Tracing") == (
        ("from shop import tracing",),
        None,
        "tracing.install()",
    )


def test_new_tracing_installs_it_first_in_main_and_adds_its_requirements(service: Path) -> None:
    plan = plan_new(NewRequest(pattern="tracing", cwd=service))
    whys = {change.path.as_posix(): change.why for change in plan.changes}
    assert whys[APPLICATION] == "set up first in main()"
    assert whys["pyproject.toml"] == (
        "added opentelemetry-api>=1.20 to [project] dependencies; "
        "added opentelemetry-sdk>=1.20 to the test extra"
    )
    apply_plan(plan)
    app = (service / APPLICATION).read_text()
    assert "from shop import otp, tracing\n" in app
    body = app.split("def main() -> int:\n")[1].splitlines()
    assert body[1] == "    tracing.install()"  # after the docstring, before the tree
    assert body[2].startswith("    return otp.run(")
    project = tomllib.loads((service / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["opentelemetry-api>=1.20"]
    assert project["optional-dependencies"]["test"][-1] == "opentelemetry-sdk>=1.20"
    assert not any(f.failing for f in check(service))


def test_new_then_remove_tracing_gives_back_every_byte_but_pyproject(service: Path) -> None:
    before = {p: p.read_bytes() for p in sorted(service.rglob("*")) if p.is_file()}
    apply_plan(plan_new(NewRequest(pattern="tracing", cwd=service)))
    plan = plan_remove(RemoveRequest(pattern="tracing", name="tracing", cwd=service))
    apply_plan(plan)
    after = {p: p.read_bytes() for p in sorted(service.rglob("*")) if p.is_file()}
    visible = {p: b for p, b in after.items() if ".otpgen" not in p.parts}
    pyproject = service / "pyproject.toml"
    assert visible.pop(pyproject) != before[pyproject]  # what it added stays, said below
    assert visible == {
        p: b for p, b in before.items() if ".otpgen" not in p.parts and p != pyproject
    }
    assert any("still depends on opentelemetry-api>=1.20" in note for note in plan.notes)
    assert any("test extra still names opentelemetry-sdk>=1.20" in note for note in plan.notes)
    manifest = json.loads((service / ".otpgen/manifest.json").read_text())
    assert "tracing:tracing" not in manifest["renders"]


def test_without_a_test_extra_the_user_is_told_what_to_add(service: Path) -> None:
    pyproject = service / "pyproject.toml"
    text = pyproject.read_text()
    start = text.index("[project.optional-dependencies]")
    end = text.index("[project.scripts]")
    pyproject.write_text(text[:start] + text[end:])
    plan = plan_new(NewRequest(pattern="tracing", cwd=service))
    apply_plan(plan)
    assert tomllib.loads(pyproject.read_text())["project"]["dependencies"] == [
        "opentelemetry-api>=1.20"
    ]
    assert any(
        "add opentelemetry-sdk>=1.20 to your project's test extra" in note for note in plan.notes
    )


# Requirements into an extra.

PYPROJECT = """\
[project]
name = "shop"
dependencies = ["redis>=5"]

[project.optional-dependencies]
docs = ["mkdocs"]
test = [
    "pytest>=8.0",  # the runner
]

[tool.x]
test = []
"""


def test_a_test_requirement_is_inserted_into_the_test_extra_only() -> None:
    text = add_requirements(PYPROJECT, ["opentelemetry-sdk>=1.20"], "test")
    assert text == PYPROJECT.replace(
        '    "pytest>=8.0",  # the runner\n',
        '    "pytest>=8.0",  # the runner\n    "opentelemetry-sdk>=1.20",\n',
    )


def test_a_requirement_the_project_already_depends_on_is_not_added_to_an_extra() -> None:
    assert missing(PYPROJECT, ["Redis>=6", "pytest", "x"], "test") == ["x"]
    assert add_requirements(PYPROJECT, ["redis>=6"], "test") == PYPROJECT


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (PYPROJECT.replace("test = [", "tests = ["), "no test array"),
        (PYPROJECT.replace("[project.optional-dependencies]", "[tool.y]"), "no test array"),
        (
            PYPROJECT.replace(
                "[project.optional-dependencies]\n", "optional-dependencies = {test = []}\n\n"
            ),
            "header on a line of its own",
        ),
    ],
)
def test_an_extra_it_cannot_find_is_refused(text: str, problem: str) -> None:
    tomllib.loads(text)  # valid TOML, just not extensible
    with pytest.raises(NotAddable, match=problem):
        add_requirements(text, ["opentelemetry-sdk>=1.20"], "test")
