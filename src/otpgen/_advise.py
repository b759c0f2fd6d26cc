"""`otpgen advise`: the patterns reference's decision tree, one yes/no question at a time.

The tree is data; `advise` walks it with whatever answers it is given and asks the caller
for the rest, so the same walk serves flags, a terminal dialogue and the tests.
"""

from collections.abc import Callable, Mapping

from otpgen._record import frozen


@frozen
class Question:
    """One yes/no question; `key` is its flag (`--KEY` / `--no-KEY`)."""

    key: str
    text: str


@frozen
class Advice:
    """Where the walk ended: a pattern to generate, or None for plain functions."""

    pattern: str | None
    reason: str


QUESTIONS: dict[str, Question] = {
    q.key: q
    for q in (
        Question(
            "one-off",
            "Is it one-off async work: a background job, a fan-out over many items, "
            "or a call with a deadline?",
        ),
        Question("state", "Does it keep state that must survive between operations?"),
        Question("per-key", "Is there one copy per user, session or other key, started on demand?"),
        Question(
            "read-mostly",
            "Is it key-value data that many tasks read at once and seldom write (a cache)?",
        ),
        Question("rate-limit", "Does it limit how often callers may act?"),
        Question("pool", "Does it lend out a limited set of connections or other resources?"),
        Question("broadcast", "Does it broadcast events to subscribers by topic?"),
        Question(
            "get-update-only",
            "Is it only getting and updating one value: no timers, no monitors, no callers "
            "that wait for something to happen?",
        ),
    )
}

# (question, advice or next question if yes, advice or next question if no)
_TREE: dict[str, tuple[str | Advice, str | Advice]] = {
    "one-off": (
        Advice(
            "task",
            "one-off work needs no long-lived process: run it under a TaskSupervisor, which "
            "bounds it, gives it a deadline and cleans it up",
        ),
        "state",
    ),
    "state": (
        "per-key",
        Advice(
            None,
            "no state survives between operations, so there is no runtime reason for a "
            "process: write plain functions (a process for code organisation is the main "
            "anti-pattern)",
        ),
    ),
    "per-key": (
        Advice(
            "session-worker",
            "one process per key, started on demand under a DynamicSupervisor and found "
            "through a Registry, isolates failures and avoids a global bottleneck",
        ),
        "read-mostly",
    ),
    "read-mostly": (
        Advice(
            "cache",
            "readers should not queue behind one process: keep the table readable without "
            "a process (ETS-style) and use a process only to sweep expired entries",
        ),
        "rate-limit",
    ),
    "rate-limit": (
        Advice(
            "rate-limiter",
            "counters read and updated in place, with a process only for cleaning up idle keys",
        ),
        "pool",
    ),
    "pool": (
        Advice(
            "connection-pool",
            "check-out and check-in must be serialised and holders monitored: a GenServer",
        ),
        "broadcast",
    ),
    "broadcast": (
        Advice(
            "pubsub",
            "a Registry with duplicate keys dispatches to every subscriber, and forgets "
            "subscribers that exit",
        ),
        "get-update-only",
    ),
    "get-update-only": (
        Advice("agent", "simple get/update state needs no callbacks: an Agent is enough"),
        Advice(
            "genserver",
            "complex state with timers, monitors or callers that wait: a GenServer",
        ),
    ),
}

FIRST = "one-off"


class MissingAnswer(Exception):
    """The walk needs an answer that was neither given nor can be asked."""

    def __init__(self, question: Question) -> None:
        super().__init__(question.key)
        self.question = question


def advise(
    answers: Mapping[str, bool],
    ask: Callable[[Question], bool] | None = None,
) -> tuple[Advice, list[tuple[Question, bool]]]:
    """Walk the tree from the first question; return the advice and the path taken.

    Given answers are used first; otherwise `ask` is called, and without it MissingAnswer
    names the question.
    """
    path: list[tuple[Question, bool]] = []
    node: str | Advice = FIRST
    while isinstance(node, str):
        question = QUESTIONS[node]
        if question.key in answers:
            answer = answers[question.key]
        elif ask is not None:
            answer = ask(question)
        else:
            raise MissingAnswer(question)
        path.append((question, answer))
        node = _TREE[node][0 if answer else 1]
    return node, path
