"""Wiring a module into application.py: two insertions, every other byte kept."""

import re

import pytest

from otpgen._wire import NotWireable, Wiring, instructions, wire

APP = '''"""The application."""

from shop import otp


def children() -> list[otp.ChildSpec]:
    """The children."""
    return []
'''

QUEUE = Wiring(("from shop.queue_a import QueueA",), 'QueueA.child_spec(name="queue_a")')
JOBS = Wiring(("from shop import jobs",), "jobs.child_spec()")


def test_an_empty_list_opens_up_and_the_import_follows_the_last_import() -> None:
    assert wire(APP, QUEUE) == APP.replace(
        "from shop import otp\n", "from shop import otp\nfrom shop.queue_a import QueueA\n"
    ).replace("return []", 'return [\n        QueueA.child_spec(name="queue_a"),\n    ]')


def test_wiring_twice_adds_nothing_twice() -> None:
    once = wire(APP, QUEUE)
    assert wire(once, QUEUE) == once


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


def test_an_existing_import_is_not_repeated() -> None:
    text = wire(APP.replace("from shop import otp", "from shop import jobs, otp"), JOBS)
    assert text.count("import jobs") == 1


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
