"""`merge()` merges cleanly wherever `git merge-file` does, and never loses a line.

git is the reference: each test runs `git merge-file -p ours base theirs` on the same three
texts. Without git on PATH the tests skip, except under CI (CI=true), where they fail.
"""

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otpgen._merge import CONFLICT_END, CONFLICT_START, merge

MARKERS = (CONFLICT_START, "=======", CONFLICT_END)


@pytest.fixture(scope="module", autouse=True)
def _git_on_path() -> None:
    if shutil.which("git") is None:
        message = "git is not on PATH: these tests compare merge() with `git merge-file`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def git_merge(base: str, ours: str, theirs: str, scratch: Path) -> tuple[str, bool]:
    """`git merge-file -p ours base theirs` (git's order): (text, clean), without user config."""
    scratch.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
        (scratch / name).write_bytes(text.encode())
        paths.append(str(scratch / name))
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(
        ["git", "merge-file", "-p", *paths], capture_output=True, env=env, check=False
    )
    assert done.returncode >= 0, done.stderr
    return done.stdout.decode(), done.returncode == 0


def added(before: str, after: str) -> Counter[str]:
    """The lines `after` has more of than `before` (as a multiset): what an edit added."""
    return Counter(after.splitlines()) - Counter(before.splitlines())


def assert_nothing_lost(base: str, ours: str, theirs: str, result: str) -> None:
    kept = Counter(line for line in result.splitlines() if not line.startswith(MARKERS))
    assert not added(base, ours) - kept, "a line the user added is missing"
    assert not added(base, theirs) - kept, "a line the template added is missing"


MODULE = '''\
"""Pool: a fixed set of workers behind a GenServer."""

from __future__ import annotations

import asyncio
import logging

from shop import otp

log = logging.getLogger(__name__)


class Pool(otp.GenServer):
    """Hands out workers."""

    async def init(self, size: int) -> None:
        self._size = size
        self._free: list[int] = list(range(size))
        self._waiting: list[otp.Caller] = []

    async def handle_call(
        self, request: object, caller: otp.Caller
    ) -> object:
        match request:
            case "checkout":
                if self._free:
                    return self._free.pop()
                self._waiting.append(caller)
                return otp.NOREPLY
            case "size":
                return self._size
        return None

    async def handle_cast(
        self, msg: object
    ) -> None:
        match msg:
            case ("checkin", worker):
                if self._waiting:
                    self._waiting.pop(0).reply(worker)
                else:
                    self._free.append(worker)
        return None

    async def handle_info(
        self, msg: object
    ) -> None:
        log.warning("unexpected: %r", msg)
        return None

    async def terminate(
        self, reason: object
    ) -> None:
        pass

    def _count(
        self,
    ) -> int:
        return len(self._free)
'''


def test_a_template_change_in_a_function_merges_with_a_blank_line_the_user_added_in_it(
    tmp_path: Path,
) -> None:
    # The template changes init's last statement; the user adds a blank line at the end
    # of init's body. Whether the new blank line goes before or after the existing one
    # is a free choice of the diff: merge3's choice touched the template's change, git's
    # does not.
    old = "        self._waiting: list[otp.Caller] = []\n"
    new = "        self._waiting: deque[otp.Caller] = deque()\n"
    theirs = MODULE.replace(old, new)
    ours = MODULE.replace(old, old + "\n")

    expected, clean = git_merge(MODULE, ours, theirs, tmp_path)
    assert clean
    text, conflicted = merge(MODULE, ours, theirs, "template v2")
    assert (text, conflicted) == (expected, False)
    assert new + "\n\n    async def handle_call(" in text


def test_templates_reordering_functions_merge_with_an_import_the_user_added(
    tmp_path: Path,
) -> None:
    head, *methods = MODULE.split("\n\n    ")
    theirs = "\n\n    ".join([head, *reversed(methods)]) + "\n"
    ours = MODULE.replace("import logging\n", "import logging\nimport time\n")

    expected, clean = git_merge(MODULE, ours, theirs, tmp_path)
    assert clean
    text, conflicted = merge(MODULE, ours, theirs, "template v2")
    assert (text, conflicted) == (expected, False)
    assert text.startswith(ours[: ours.index("from shop")])
    assert text.count("import time\n") == 1
    assert text.endswith(theirs[theirs.index("class Pool") :])


def test_a_real_conflict_keeps_both_sides_between_markers() -> None:
    old = "        return len(self._free)\n"
    ours = MODULE.replace(old, "        return len(self._free) + 0\n")
    theirs = MODULE.replace(old, "        return len(self._free or ())\n")

    text, conflicted = merge(MODULE, ours, theirs, "template v2")

    assert conflicted
    assert text.endswith(
        f"{CONFLICT_START}yours (edited since otpgen wrote it)\n"
        "        return len(self._free) + 0\n"
        "=======\n"
        "        return len(self._free or ())\n"
        f"{CONFLICT_END}template v2\n"
    )


# Lines that repeat, as generated Python does: repeated lines are what trip diff heuristics.
VOCABULARY = [
    "\n",
    "    pass\n",
    ")\n",
    "def f():\n",
    "def g(x):\n",
    "class A:\n",
    "    def m(self):\n",
    "        pass\n",
    "        return None\n",
    "    return x\n",
    "    x = 1\n",
    "    if x:\n",
    "        x += 1\n",
    "import os\n",
    '"""Doc."""\n',
]
lines = st.lists(st.sampled_from(VOCABULARY), max_size=40)


@st.composite
def edited(draw: st.DrawFn, base: list[str], tag: str) -> list[str]:
    """`base` after 1-4 random edits: insert, delete, replace a line, move a block."""
    out = list(base)
    fresh = [*VOCABULARY, f"    {tag}()\n"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "move"]))
        at = draw(st.integers(0, len(out)))
        if kind == "insert" or not out:
            out.insert(at, draw(st.sampled_from(fresh)))
        elif kind == "delete":
            del out[min(at, len(out) - 1)]
        elif kind == "replace":
            out[min(at, len(out) - 1)] = draw(st.sampled_from(fresh))
        else:
            block = out[at : at + draw(st.integers(1, 6))]
            del out[at : at + len(block)]
            to = draw(st.integers(0, len(out)))
            out[to:to] = block
    return out


@st.composite
def three_texts(draw: st.DrawFn) -> tuple[str, str, str]:
    base = draw(lines)
    return "".join(base), "".join(draw(edited(base, "user"))), "".join(draw(edited(base, "tpl")))


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(texts=three_texts())
def test_merge_is_clean_wherever_git_merge_file_is_and_never_loses_a_line(
    texts: tuple[str, str, str], tmp_path: Path
) -> None:
    base, ours, theirs = texts
    _, git_clean = git_merge(base, ours, theirs, tmp_path / "git")

    text, conflicted = merge(base, ours, theirs, "template v2")

    if git_clean:
        assert not conflicted
    assert_nothing_lost(base, ours, theirs, text)
