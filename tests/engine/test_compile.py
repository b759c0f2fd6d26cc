"""Compiled templates (`_compile`) render exactly what jinja2 renders, or defer to it."""

import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import jinja2
import pytest

from otpgen import _compile
from otpgen._errors import OtpgenError
from otpgen._names import MAX_LENGTH, class_name
from otpgen._patterns import Pattern, load_patterns
from otpgen._render import PATTERN_TEMPLATES, Answers, pattern_context, render_files
from otpgen._templates import templates_dir


def instances(pattern: Pattern) -> list[dict[str, str]]:
    """Settings covering every choice, both booleans, and each number's minimum."""
    runs: list[dict[str, str]] = [{}]
    for option in pattern.options:
        if option.type == "choice":
            runs += [{option.key: choice} for choice in option.choices]
        elif option.type == "bool":
            runs += [{option.key: "true"}, {option.key: "false"}]
        elif option.min is not None:
            runs.append({option.key: str(option.min)})
    return runs


def by_jinja(source: str, context: dict[str, object]) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, **_compile.OPTIONS)
    return environment.from_string(source).render(context)


def clash_names(source: str) -> set[str]:
    """Module names whose class the template compares against (its name-clash branches)."""
    classes = set(re.findall(r'class_name == "(\w+)"', source))
    for group in re.findall(r"class_name in \(([^)]*)\)", source):
        classes.update(re.findall(r'"(\w+)"', group))
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", c).lower() for c in classes}


PATTERNS = load_patterns(templates_dir())


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_shipped_template_compiles_and_renders_as_jinja2_does(pattern: str) -> None:
    spec = PATTERNS[pattern]
    sources = {t: (spec.directory / t).read_text(encoding="utf-8") for t in PATTERN_TEMPLATES}
    names = {"chat", "a" * MAX_LENGTH}.union(*(clash_names(s) for s in sources.values()))
    for template, source in sources.items():
        assert _compile.translate(source) is not None, f"{pattern}/{template} is not compiled"
    for settings in instances(spec):
        options = spec.resolve(settings)
        for name in sorted(names):
            answers = Answers(pattern, name, class_name(name), "shop", options)
            context = pattern_context(spec, answers)
            for template, source in sources.items():
                rendered = _compile.render(source, context)
                assert rendered is not None, (pattern, template, settings, name)
                assert rendered == by_jinja(source, context), (pattern, template, settings, name)


CONTEXT: dict[str, object] = {
    "name": "chat",
    "count": 1,
    "ratio": "0.25",
    "word": "abc",
    "options": {"on": True, "off": False, "mode": "b", "limit": 3, "text": "x y"},
}

SAME = [
    "plain text, {{ '{{' }} kept\n\n",
    "{{ name }}-{{ count }}-{{ ratio | float }}-{{ word | float }}-{{ options | upper }}",
    "{{ name | upper }}{{ word | lower }}{{ count ~ name ~ 2.5 }}",
    "{{ options.limit }} {{ options.mode }} {{ options.get }}",  # an attribute before an item
    "{% if options.on %}\n    on\n{% elif options.off %}\n off\n{% else %}\nneither\n{% endif %}\n",
    "  {% if options.off %}\nx\n  {%- else -%}\n   y  \n{% endif %}\n",
    "{% if count > 0 and not options.off or word == 'q' %}yes{% endif %}",
    "{{ 's' if count != 1 }}|{{ 's' if count == 1 }}|{{ 'a' if options.off else 'b' }}",
    "{% set x = name ~ 'X' if name in ('chat', 'room') else 'Y' %}{{ x }}{% set x = 2 %}{{ x }}",
    "{% if options.on %}{% set inner = 'seen' %}{% endif %}{{ inner }}",
    "{{ name }}{% set name = 'other' %}{{ name }}",
    "{{ count + 2 }} {{ count - 2 }} {{ count * 2 }} {{ [1, 2] }} {{ (1,) }} {{ () }}",
    "{{ 1 < count <= 3 }} {{ options.mode not in ['a', 'c'] }} {{ none }} {{ true }}",
    "{% raw %}{{ not a variable }}{% endraw %}{# a comment #}\r\nline\r\n",
    "{% if options.off %}{% endif %}empty branches",
]


@pytest.mark.parametrize("source", SAME)
def test_a_compiled_render_equals_jinja2s(source: str) -> None:
    assert _compile.translate(source) is not None
    assert _compile.render(source, CONTEXT) == by_jinja(source, CONTEXT)


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in options %}{{ x }}{% endfor %}",
        "{{ options | tojson }}",
        "{{ word | replace('a', 'b') }}",
        "{% if name is defined %}x{% endif %}",
        "{% include 'other.j2' %}",
        "{% macro m() %}{% endmacro %}",
        "{{ options['mode'] }}",
        "{{ word.upper() }}",
        "{{ count / 2 }}",
        "{{ unclosed",
    ],
)
def test_what_the_translation_does_not_know_is_left_to_jinja2(source: str) -> None:
    assert _compile.translate(source) is None
    assert _compile.render(source, CONTEXT) is None


@pytest.mark.parametrize(
    "source",
    [
        "{{ missing }}",
        "{{ options.missing }}",
        "{% if missing %}x{% endif %}",
        "{% set unused = options.missing %}kept",  # jinja2 renders this one
        "{{ ('s' if options.off) ~ 'x' }}",  # a plain Undefined inside an expression
        "{{ word + count }}",
    ],
)
def test_a_compiled_render_that_fails_defers_to_jinja2(source: str) -> None:
    assert _compile.render(source, CONTEXT) is None


def test_render_files_reports_jinja2s_error_for_a_failing_compiled_render(
    tmp_path: Path,
) -> None:
    template = tmp_path / "module.py.j2"
    template.write_text("line one\n{{ options.missing }}\n")
    target = {"module.py.j2": PurePosixPath("out.py")}
    with pytest.raises(OtpgenError, match=r"module\.py\.j2:2: .*missing"):
        render_files({"module.py.j2": template}, target, dict(CONTEXT))
    template.write_text("{% set unused = options.missing %}{{ name }}\n")
    assert render_files({"module.py.j2": template}, target, dict(CONTEXT)) == {
        PurePosixPath("out.py"): "chat\n"
    }


def test_a_damaged_cache_entry_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTPGEN_CACHE_DIR", str(tmp_path))
    source = "{{ name }} compiled\n"
    assert _compile.render(source, CONTEXT) == "chat compiled\n"
    [entry] = [p for p in (tmp_path / "compiled").rglob("*") if p.is_file()]
    entry.write_bytes(b"\xe3garbage")
    _compile._loaded.clear()  # as in a new process
    assert _compile.render(source, CONTEXT) is None


def test_without_a_cache_jinja2_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTPGEN_NO_CACHE", "1")
    assert _compile.render("{{ name }}", CONTEXT) is None


# What otpgen imports, not what the interpreter's start did (a site .pth file may import
# certifi, and with it shutil and tempfile, before any of otpgen runs).
SCRIPT = """
import sys
before = set(sys.modules)
from pathlib import Path
from otpgen._generate import NewRequest, plan_new
plan_new(NewRequest(pattern="genserver", name=sys.argv[1], cwd=Path.cwd()))
costly = {"jinja2", "dataclasses", "inspect", "tomllib", "tempfile", "shutil", "sysconfig"}
print(sorted(costly & (set(sys.modules) - before)))
"""


def test_a_new_name_imports_no_costly_module_once_the_cache_is_warm(tmp_path: Path) -> None:
    """jinja2 (see _compile), dataclasses and inspect (_record), tomllib (the TOML cache of
    _files), tempfile and shutil (_format's scratch directory), sysconfig (ruff's own
    package, found without importing it)."""
    project = tmp_path / "project"
    (project / "src" / "shop").mkdir(parents=True)
    (project / "src" / "shop" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "0"\n')
    env = {**os.environ, "OTPGEN_CACHE_DIR": str(tmp_path / "cache")}

    def imported(name: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, name],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    assert "jinja2" in imported("first")  # translated now, with jinja2
    assert imported("second") == "[]"
