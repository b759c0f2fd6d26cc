"""`otpgen advise`: the decision tree of the patterns reference."""

import pytest

from otpgen._advise import QUESTIONS, MissingAnswer, Question, advise


@pytest.mark.parametrize(
    ("answers", "pattern"),
    [
        ({"one-off": True}, "task"),
        ({"one-off": False, "state": False}, None),
        ({"one-off": False, "state": True, "per-key": True}, "session-worker"),
        ({"one-off": False, "state": True, "per-key": False, "read-mostly": True}, "cache"),
        (
            {"one-off": False, "state": True, "per-key": False, "read-mostly": False}
            | {"rate-limit": True},
            "rate-limiter",
        ),
        (
            {"one-off": False, "state": True, "per-key": False, "read-mostly": False}
            | {"rate-limit": False, "pool": True},
            "connection-pool",
        ),
        (
            {"one-off": False, "state": True, "per-key": False, "read-mostly": False}
            | {"rate-limit": False, "pool": False, "broadcast": True},
            "pubsub",
        ),
        (
            {"one-off": False, "state": True, "per-key": False, "read-mostly": False}
            | {"rate-limit": False, "pool": False, "broadcast": False, "get-update-only": True},
            "agent",
        ),
        (
            {"one-off": False, "state": True, "per-key": False, "read-mostly": False}
            | {"rate-limit": False, "pool": False, "broadcast": False, "get-update-only": False},
            "genserver",
        ),
    ],
)
def test_each_answer_path_ends_in_its_pattern(answers: dict[str, bool], pattern: str) -> None:
    advice, path = advise(answers)
    assert advice.pattern == pattern
    assert [q.key for q, _ in path] == list(answers)


def test_no_state_recommends_plain_functions_with_the_reason() -> None:
    advice, _ = advise({"one-off": False, "state": False})
    assert advice.pattern is None
    assert "no runtime reason for a process" in advice.reason


def test_unanswered_questions_are_asked_in_order() -> None:
    asked: list[str] = []

    def ask(question: Question) -> bool:
        asked.append(question.key)
        return question.key == "state"

    advice, _ = advise({}, ask)
    assert asked == [
        "one-off",
        "state",
        "per-key",
        "read-mostly",
        "rate-limit",
        "pool",
        "broadcast",
        "get-update-only",
    ]
    assert advice.pattern == "genserver"


def test_a_missing_answer_without_a_way_to_ask_names_the_question() -> None:
    with pytest.raises(MissingAnswer) as info:
        advise({"one-off": False})
    assert info.value.question is QUESTIONS["state"]


def test_answers_off_the_path_are_ignored() -> None:
    advice, path = advise({"one-off": True, "pool": True})
    assert advice.pattern == "task"
    assert len(path) == 1
