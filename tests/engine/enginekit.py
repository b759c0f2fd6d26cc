"""Helpers shared by the engine tests."""

from pathlib import Path

from otpgen._plan import Action, Finding, apply_plan
from otpgen._update import plan_update


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes, to prove nothing changed."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


V1_TOML = """\
version = 1
summary = "A worker."
use_when = "testing updates"
dont_use_when = "anywhere else"

[options.limit]
type = "int"
default = 3
help = "A limit."
"""

V1_MODULE = '''\
{{ banner }}"""{{ class_name }}: version one of the docstring."""

LIMIT = {{ options.limit }}


def helper(value: int) -> int:
    """Double it."""
    return value * 2


def first() -> int:
    return helper(1)


def second() -> int:
    return helper(2)


def third() -> int:
    return helper(3)
'''

V2_TOML = (
    V1_TOML.replace("version = 1", "version = 2")
    + """
[options.greeting]
type = "str"
default = "hello"
help = "A greeting."
"""
)

V2_MODULE = (
    V1_MODULE.replace("version one of the docstring", "version two of the docstring")
    .replace("def helper(", "def assist(")
    .replace("return helper(", "return assist(")
    + "\n\nGREETING = {{ options.greeting | tojson }}\n"
)

TEST_TEMPLATE = """\
{{ banner }}from {{ package }}.{{ name }} import first


def test_first() -> None:
    assert first() == 2
"""


MODULE = "src/demo/job.py"


def statuses(project: Path, templates: Path, **kwargs: object) -> dict[str, Action]:
    plan = plan_update(project, templates, **kwargs)  # type: ignore[arg-type]
    return {f.path.as_posix(): f.action for f in plan.changes}


def update(project: Path, templates: Path, **kwargs: object) -> dict[str, Action]:
    plan = plan_update(project, templates, **kwargs)  # type: ignore[arg-type]
    apply_plan(plan)
    return {f.path.as_posix(): f.action for f in plan.changes}


def failing(findings: list[Finding]) -> dict[str, str]:
    return {f.path: f.cause for f in findings if f.failing}


def edit(project: Path, path: str, old: str, new: str) -> None:
    target = project / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))
