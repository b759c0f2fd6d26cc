"""Wiring a module into application.py: two insertions, every other byte kept."""

import difflib
import re

import pytest

from otpgen._wire import WIDTH, NotWireable, Wiring, instructions, wire

APP = '''"""The application."""

from shop import otp


def children() -> list[otp.ChildSpec]:
    """The children."""
    return []
'''

QUEUE = Wiring(("from shop.queue_a import QueueA",), 'QueueA.child_spec(name="queue_a")')
JOBS = Wiring(("from shop import jobs",), "jobs.child_spec()")


def test_an_empty_list_opens_up_and_the_import_joins_the_packages_imports() -> None:
    assert wire(APP, QUEUE) == APP.replace(
        "from shop import otp\n", "from shop import otp\nfrom shop.queue_a import QueueA\n"
    ).replace("return []", 'return [\n        QueueA.child_spec(name="queue_a"),\n    ]')


def test_wiring_twice_adds_nothing_twice() -> None:
    once = wire(APP, QUEUE)
    assert wire(once, QUEUE) == once


def test_a_file_starting_with_a_byte_order_mark_is_wired_and_keeps_it() -> None:
    from otpgen._wire import unwire

    wired = wire("\ufeff" + APP, QUEUE)
    assert wired == "\ufeff" + wire(APP, QUEUE)
    assert unwire(wired, QUEUE) == ("\ufeff" + APP, [])


def test_children_are_appended_in_order() -> None:
    text = wire(wire(APP, QUEUE), JOBS)
    assert text.index("QueueA.child_spec") < text.index("jobs.child_spec()")
    assert "        jobs.child_spec(),\n    ]\n" in text


def test_comments_and_layout_of_the_users_list_are_kept() -> None:
    mine = APP.replace(
        "return []",
        "return [\n        # the cache first: everyone reads it\n"
        "        Cache.child_spec()  # no trailing comma\n    ]",
    )
    text = wire(mine, JOBS)
    assert "        # the cache first: everyone reads it\n" in text
    assert (
        "        Cache.child_spec(),  # no trailing comma\n        jobs.child_spec(),\n    ]"
        in text
    )


def test_a_one_line_list_is_opened_up() -> None:
    text = wire(APP.replace("return []", "return [A.child_spec(), B.child_spec()]"), JOBS)
    items = ["A.child_spec()", "B.child_spec()", "jobs.child_spec()"]
    assert "return [\n" + "".join(f"        {item},\n" for item in items) + "    ]" in text


def test_the_closing_bracket_on_the_last_elements_line_is_handled() -> None:
    text = wire(APP.replace("return []", "return [\n        A.child_spec()]"), JOBS)
    assert "return [\n        A.child_spec(),\n        jobs.child_spec(),\n    ]" in text


@pytest.mark.parametrize(
    "present",
    [
        "from shop import jobs, otp",
        "from shop import (\n    jobs,\n    otp,\n)",
        "from shop import otp\nimport shop.jobs as jobs",
        "from shop import otp\nfrom shop import jobs as jobs",
        "from shop import otp\nfrom . import jobs",
    ],
)
def test_an_existing_import_is_not_repeated(present: str) -> None:
    mine = APP.replace("from shop import otp", present)
    assert wire(mine, JOBS) == mine.replace(
        "return []", "return [\n        jobs.child_spec(),\n    ]"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (APP.replace("def children", "def kids"), "no function children()"),
        (APP.replace("return []", "return list(SPECS)"), "does not end in `return [...]`"),
        (APP + "def oops(:\n", "it does not parse"),
    ],
)
def test_a_restructured_file_is_not_wireable(text: str, reason: str) -> None:
    with pytest.raises(NotWireable, match=re.escape(reason)):
        wire(text, JOBS)


def test_instructions_name_the_exact_lines() -> None:
    assert instructions(JOBS) == (
        "add to application.py:\n    from shop import jobs\n"
        "and to the list children() returns:\n    jobs.child_spec(),\n"
    )


# Only inserted lines. Wiring used to be followed by `ruff check --fix` and `ruff format` over
# the whole file, which rewrote what the user wrote; each of these kept its lines.


def only_inserted(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`, asserting that it removes or changes none."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    added = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        assert tag in ("equal", "insert"), f"{tag}: {old[i1:i2]} -> {new[j1:j2]}"
        if tag == "insert":
            added += new[j1:j2]
    return added


def listing(*children: str) -> str:
    return "return [\n" + "".join(f"        {child},\n" for child in children) + "    ]"


MINE = APP.replace("return []", listing("A.child_spec()"))
QUEUE_LINES = ["from shop.queue_a import QueueA\n", '        QueueA.child_spec(name="queue_a"),\n']


def test_a_side_effect_import_and_its_comment_are_kept() -> None:
    mine = MINE.replace(
        "from shop import otp\n",
        "from shop import metrics  # registers collectors\nfrom shop import otp\n",
    )
    assert only_inserted(mine, wire(mine, QUEUE)) == QUEUE_LINES
    # two `from shop import` statements are not isort's: a third changes neither
    assert only_inserted(mine, wire(mine, JOBS)) == [
        "from shop import jobs\n",
        "        jobs.child_spec(),\n",
    ]


def test_optional_is_not_rewritten() -> None:
    mine = MINE.replace(
        "\n\ndef children",
        "\nfrom typing import Optional\n\nNAME: Optional[str] = None\n\n\ndef children",
    )
    assert only_inserted(mine, wire(mine, QUEUE)) == QUEUE_LINES


def test_an_else_after_a_return_is_kept() -> None:
    mine = MINE + (
        "\n\ndef name(default: str | None) -> str:\n"
        "    if default is not None:\n        return default\n    else:\n"
        '        return "shop"\n'
    )
    assert only_inserted(mine, wire(mine, QUEUE)) == QUEUE_LINES


def test_a_hand_aligned_dict_is_kept() -> None:
    mine = MINE.replace(
        "\n\ndef children",
        "\nLIMITS = {\n    'burst':   10,\n    'rate':    2.5,\n    'window':  60,\n}\n"
        "\n\ndef children",
    )
    assert only_inserted(mine, wire(mine, QUEUE)) == QUEUE_LINES


def test_a_hand_wrapped_import_block_is_kept() -> None:
    mine = MINE.replace(
        "from shop import otp\n",
        "from shop import otp\nfrom shop.handlers import (handle_a, handle_b,\n"
        "                           handle_c)\n",
    ).replace('"""The children."""', "_ = (handle_a, handle_b, handle_c)")
    assert only_inserted(mine, wire(mine, QUEUE)) == QUEUE_LINES


# Where the import goes: where ruff's isort (default settings) wants it.


def imports_after(text: str, *wirings: Wiring) -> str:
    for wiring in wirings:
        text = wire(text, wiring)
    return text[: text.index("\n\n\ndef")]


def test_the_import_goes_to_its_sorted_place_not_after_the_last_import() -> None:
    mine = APP.replace("from shop import otp\n", "from shop import otp\nfrom shop.zed import Zed\n")
    assert imports_after(mine, QUEUE).endswith(
        "from shop import otp\nfrom shop.queue_a import QueueA\nfrom shop.zed import Zed"
    )


def test_modules_sort_case_insensitively_and_numbers_naturally() -> None:
    mine = APP.replace(
        "from shop import otp\n",
        "from shop import otp\nfrom shop.mod9 import Nine\nfrom shop.mod10 import Ten\n"
        "from shop.Upper import Up\n",
    )
    tasks = Wiring(("from shop.tasks import Tasks",), "Tasks.child_spec()")
    eleven = Wiring(("from shop.mod11 import Eleven",), "Eleven.child_spec()")
    assert imports_after(mine, tasks, eleven).endswith(
        "from shop.mod9 import Nine\nfrom shop.mod10 import Ten\nfrom shop.mod11 import Eleven\n"
        "from shop.tasks import Tasks\nfrom shop.Upper import Up"
    )


def test_plain_imports_come_before_from_imports() -> None:
    mine = APP.replace("from shop import otp\n", "import shop.zconfig\nfrom shop import otp\n")
    assert imports_after(mine, QUEUE).endswith(
        "import shop.zconfig\nfrom shop import otp\nfrom shop.queue_a import QueueA"
    )


def test_a_name_from_the_same_module_joins_its_statement_in_isort_order() -> None:
    assert "\nfrom shop import jobs, otp\n" in wire(APP, JOBS)
    mine = APP.replace("from shop import otp", "from shop import CONFIG, Kernel, otp")
    agent = Wiring(("from shop import Agent",), "Agent.child_spec()")
    assert imports_after(mine, JOBS, agent).endswith(
        "\nfrom shop import CONFIG, Agent, Kernel, jobs, otp"
    )


def test_a_name_joining_an_exploded_statement_is_one_inserted_line() -> None:
    mine = MINE.replace("from shop import otp", "from shop import (\n    otp,\n    zones,\n)")
    assert only_inserted(mine, wire(mine, JOBS)) == ["    jobs,\n", "        jobs.child_spec(),\n"]


def test_a_comment_on_a_single_name_stays_with_that_name() -> None:
    mine = APP.replace("from shop import otp", "from shop import otp  # the kernel")
    assert imports_after(mine, JOBS).endswith(
        "from shop import (\n    jobs,\n    otp,  # the kernel\n)"
    )


def test_a_statement_too_wide_for_one_line_is_exploded() -> None:
    names = ", ".join(f"service_{n}" for n in range(7))
    mine = APP.replace("from shop import otp", f"from shop import {names}, otp")
    text = imports_after(mine, JOBS)
    assert "from shop import (\n    jobs,\n    otp,\n    service_0,\n" in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_a_comment_above_an_import_stays_with_it() -> None:
    # isort puts a blank line before a commented import that does not open its section
    mine = APP.replace(
        "from shop import otp\n", "from shop import otp\n\n# the zed\nfrom shop.zed import Zed\n"
    )
    assert imports_after(mine, QUEUE).endswith(
        "from shop import otp\nfrom shop.queue_a import QueueA\n\n"
        "# the zed\nfrom shop.zed import Zed"
    )
    first = Wiring(("from shop.alpha import Alpha",), "Alpha.child_spec()")
    mine = APP.replace(
        "from shop import otp\n", "import os\n\n# the zed\nfrom shop.zed import Zed\n"
    )
    assert imports_after(mine, first).endswith(
        "import os\n\nfrom shop.alpha import Alpha\n\n# the zed\nfrom shop.zed import Zed"
    )


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("import os", "import os\n\nfrom shop.queue_a import QueueA"),
        (
            "import os\n\nimport httpx\n\nfrom . import helpers",
            "import os\n\nimport httpx\n\nfrom shop.queue_a import QueueA\n\nfrom . import helpers",
        ),
        ("from . import helpers", "from shop.queue_a import QueueA\n\nfrom . import helpers"),
        (
            "from __future__ import annotations",
            "from __future__ import annotations\n\nfrom shop.queue_a import QueueA",
        ),
    ],
)
def test_the_first_import_of_the_package_opens_its_own_section(block: str, expected: str) -> None:
    assert imports_after(APP.replace("from shop import otp", block), QUEUE).endswith(
        f'"""The application."""\n\n{expected}'
    )


def test_a_file_without_imports_gets_its_first() -> None:
    bare = APP.replace("from shop import otp\n\n", "").replace("otp.ChildSpec", "object")
    assert wire(bare, QUEUE).startswith(
        '"""The application."""\n\nfrom shop.queue_a import QueueA\n\n\ndef children()'
    )
    no_docstring = bare.replace('"""The application."""\n\n\n', "")
    assert wire(no_docstring, QUEUE).startswith(
        "from shop.queue_a import QueueA\n\n\ndef children()"
    )
    assert wire("\n" + no_docstring, QUEUE).startswith(
        "from shop.queue_a import QueueA\n\n\ndef children()"
    )


def test_a_name_that_means_something_else_already_is_not_wireable() -> None:
    mine = APP.replace("from shop import otp", "from shop import otp\nfrom legacy import jobs")
    with pytest.raises(NotWireable, match=r"the name jobs is imported already, from legacy"):
        wire(mine, JOBS)


def test_a_wiring_import_that_is_not_an_import_is_not_wireable() -> None:
    with pytest.raises(NotWireable, match="expected one absolute import statement"):
        wire(APP, Wiring(("jobs = 1",), "jobs.child_spec()"))


# The child spec's line.


def test_a_child_spec_too_wide_for_one_line_is_exploded() -> None:
    long = "a_rather_long_module_name_for_wrapping"
    wiring = Wiring(
        (f"from shop.{long} import Long",),
        f'Long.child_spec(name="{long}", restart="transient")',
    )
    text = wire(APP, wiring)
    assert (
        "    return [\n        Long.child_spec(\n"
        f'            name="{long}",\n            restart="transient",\n        ),\n    ]'
    ) in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_a_one_line_list_with_commas_inside_its_elements_opens_up_whole() -> None:
    mine = APP.replace("return []", 'return [A.child_spec(name="é", restart="x"), B.child_spec()]')
    items = ['A.child_spec(name="é", restart="x")', "B.child_spec()", "jobs.child_spec()"]
    assert "return [\n" + "".join(f"        {item},\n" for item in items) + "    ]" in wire(
        mine, JOBS
    )


def test_a_non_ascii_line_before_the_element_does_not_shift_the_comma() -> None:
    mine = APP.replace("return []", 'return [\n        A.child_spec(name="café")  # ünïcode\n    ]')
    assert '        A.child_spec(name="café"),  # ünïcode\n        jobs.child_spec(),\n' in wire(
        mine, JOBS
    )


def test_windows_line_endings_are_kept() -> None:
    text = wire(MINE.replace("\n", "\r\n"), QUEUE)
    assert "\n" not in text.replace("\r\n", "")
    assert only_inserted(MINE.replace("\n", "\r\n"), text) == [
        line.replace("\n", "\r\n") for line in QUEUE_LINES
    ]
