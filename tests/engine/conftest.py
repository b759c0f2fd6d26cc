"""Engine tests render a small demo pattern beside the real kernel, in a scratch project;
the update tests render a `worker` pattern at v1, then upgrade it to v2."""

import shutil
from pathlib import Path

import pytest
from enginekit import TEST_TEMPLATE, V1_MODULE, V1_TOML, V2_MODULE, V2_TOML

from otpgen._generate import NewRequest, plan_new
from otpgen._plan import apply_plan

REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

DEMO_TOML = """\
version = 1
summary = "A demo server."
use_when = "testing the engine"
dont_use_when = "anywhere else"

[options.restart]
type = "choice"
choices = ["permanent", "transient"]
default = "permanent"
help = "Restart policy."

[options.limit]
type = "int"
default = 3
min = 1
help = "A limit."

[options.ratio]
type = "float"
default = 0.5
min = 0
help = "A ratio."

[options.verbose]
type = "bool"
default = false
help = "Chatty or not."

[options.label]
type = "str"
default = "demo"
help = "A label."
"""

DEMO_MODULE = """\
{{ banner }}\"\"\"{{ class_name }}: a demo.\"\"\"
from {{ package }}.otp import GenServer,   PERMANENT, TRANSIENT
import os


class {{ class_name }}(GenServer):
    child_restart = {{ options.restart | upper }}
    limit = {{ options.limit }}
    ratio = {{ options.ratio }}
    verbose = {{ options.verbose }}
    label = {{ options.label | tojson }}
"""

DEMO_TEST = """\
{{ banner }}from {{ package }}.{{ name }} import {{ class_name }}


def test_limit() -> None:
    assert {{ class_name }}.limit == {{ options.limit }}
"""


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A templates directory: the real kernel and one `demo` pattern."""
    root = tmp_path / "templates"
    shutil.copytree(REPO_TEMPLATES / "kernel", root / "kernel")
    demo = root / "patterns" / "demo"
    demo.mkdir(parents=True)
    (demo / "pattern.toml").write_text(DEMO_TOML)
    (demo / "module.py.j2").write_text(DEMO_MODULE)
    (demo / "test_module.py.j2").write_text(DEMO_TEST)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal src-layout project with a ruff configuration."""
    root = tmp_path / "project"
    (root / "src" / "demo").mkdir(parents=True)
    (root / "src" / "demo" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.ruff]\nline-length = 100\n\n'
        '[tool.ruff.lint]\nselect = ["E", "F", "I", "UP"]\n'
    )
    return root


def write_pattern(root: Path, toml: str, module: str) -> None:
    pattern = root / "patterns" / "worker"
    pattern.mkdir(parents=True, exist_ok=True)
    (pattern / "pattern.toml").write_text(toml)
    (pattern / "module.py.j2").write_text(module)
    (pattern / "test_module.py.j2").write_text(TEST_TEMPLATE)


@pytest.fixture
def v1(templates: Path) -> Path:
    write_pattern(templates, V1_TOML, V1_MODULE)
    (templates / "kernel/otp/_legacy.py").write_text('"""Dropped in v2."""\n\nOLD = 1\n')
    return templates


@pytest.fixture
def v2(v1: Path, tmp_path: Path) -> Path:
    root = tmp_path / "templates-v2"
    shutil.copytree(v1, root)
    write_pattern(root, V2_TOML, V2_MODULE)
    (root / "kernel/otp/_legacy.py").unlink()
    (root / "kernel/otp/_extra.py").write_text('"""New in v2."""\n\nNEW = 2\n')
    return root


@pytest.fixture
def generated(project: Path, v1: Path) -> Path:
    apply_plan(plan_new(NewRequest(pattern="worker", name="job", cwd=project), v1))
    return project
