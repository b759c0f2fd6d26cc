"""A small application on the kernel: one process per chat user, found through a registry.

Run it from a checkout with `python templates/kernel/example.py`. The tree:

    root Supervisor (rest_for_one)
    ├── TaskSupervisor "jobs"       background work (here: delivering notifications)
    └── DynamicSupervisor "users"   one UserSession per user, started on first use,
                                    registered in SESSIONS under the user id

It plays a short scripted scene (users join, a session crashes and is restarted by its
supervisor, an idle session stops itself) and then shuts the tree down in order, the way
`otp.run(children)` does on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from otp import (
    NOREPLY,
    REST_FOR_ONE,
    TRANSIENT,
    AlreadyStarted,
    Caller,
    ChildSpec,
    Continue,
    DynamicSupervisor,
    GenServer,
    Registry,
    Stop,
    Supervisor,
    TaskSupervisor,
    via,
    whereis,
)

log = logging.getLogger("example")

SESSIONS = Registry(name="sessions")
IDLE_AFTER = 0.2  # seconds without a message before a session stops itself


class UserSession(GenServer):
    """One user's chat history: a process because it is state that outlives a request."""

    child_restart = TRANSIENT  # an idle stop is normal; only a crash brings it back

    # Client API

    @classmethod
    def spec(cls, user: str) -> ChildSpec:
        return cls.child_spec(user, name=via(SESSIONS, user))

    async def post(self, text: str) -> int:
        count: int = await self.call(("post", text))
        return count

    async def history(self) -> list[str]:
        lines: list[str] = await self.call(("history", None))
        return lines

    # Server callbacks

    async def init(self, user: str) -> Continue:
        self.user = user
        self.lines: list[str] = []
        self.idle: asyncio.TimerHandle | None = None
        return Continue("load")  # loading would be slow: do it after start returns

    async def handle_continue(self, arg: Any) -> None:
        self.lines.append(f"(welcome back, {self.user})")
        self._touch()

    async def handle_call(self, request: tuple[str, Any], caller: Caller) -> Any:
        self._touch()
        op, text = request
        if op == "post":
            if text == "crash":
                raise RuntimeError(f"{self.user}'s session hit a bug")
            self.lines.append(text)
            return len(self.lines)
        if op == "history":
            return list(self.lines)
        return NOREPLY

    async def handle_info(self, msg: Any) -> Stop | None:
        if msg == "idle":
            log.info("session %s idle: stopping", self.user)
            return Stop()
        return None

    async def terminate(self, reason: object) -> None:
        if self.idle is not None:
            self.idle.cancel()
        log.info("session %s saved (%d lines), exit reason %r", self.user, len(self.lines), reason)

    def _touch(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = self.send_after("idle", IDLE_AFTER)


async def session(user: str) -> UserSession:
    """Get-or-start: race free, because the registry refuses a second holder."""
    users = whereis("users")
    assert isinstance(users, DynamicSupervisor)
    try:
        started = await users.start_child(UserSession.spec(user))
    except AlreadyStarted as exc:
        started = exc.process
    assert isinstance(started, UserSession)
    return started


async def notify(user: str, text: str) -> None:
    await asyncio.sleep(0.01)
    log.info("notified %s: %r", user, text)


async def main() -> None:
    root = await Supervisor.start(
        [
            TaskSupervisor.child_spec(name="jobs"),
            DynamicSupervisor.child_spec(max_children=100, name="users"),
        ],
        strategy=REST_FOR_ONE,
    )
    jobs = whereis("jobs")
    assert isinstance(jobs, TaskSupervisor)

    alice, again = await asyncio.gather(session("alice"), session("alice"))
    log.info("two concurrent first requests, one process: %s", alice is again)
    await alice.post("hello")
    bob = await session("bob")
    await bob.post("hi alice")
    jobs.start_child(notify, "alice", "bob said hi")

    try:
        await bob.post("crash")
    except Exception as exc:  # the caller learns at once that the server died
        log.info("bob's call failed: %r", exc)
    await asyncio.sleep(0.01)
    bob_again = SESSIONS.whereis("bob")
    log.info("bob restarted by his supervisor: %s", bob_again is not None and bob_again is not bob)

    log.info("alice's history: %s", await alice.history())
    await asyncio.sleep(IDLE_AFTER * 2)
    log.info("sessions left after idling: %d", SESSIONS.count())

    await root.stop("shutdown")
    log.info("tree stopped; nothing left running: %s", len(asyncio.all_tasks()) == 1)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)-7s %(name)s: %(message)s")
    asyncio.run(main())
