"""otp: Erlang/OTP's process patterns for asyncio, standard library only.

Vendored by otpgen; you own this copy and `otpgen update` upgrades it like any other
generated file. The rule it is built on: no process without a runtime reason (state
that outlives a call and needs coordination, a shared resource, an error boundary).
Everything else is plain functions.

Python is not the BEAM, and this package does not pretend otherwise: a process is an
asyncio task, scheduling is cooperative (a handler that never awaits stalls every
process), memory is shared (messages are not copied: send immutable data), and
killing a process cancels its task, so its `finally` blocks and `terminate` still run.
"""

from ._agent import Agent
from ._app import JsonFormatter, run, serve
from ._childspec import (
    ONE_FOR_ALL,
    ONE_FOR_ONE,
    PERMANENT,
    REST_FOR_ONE,
    SUPERVISOR,
    TEMPORARY,
    TRANSIENT,
    WORKER,
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
)
from ._dynamic import DynamicSupervisor
from ._errors import (
    AlreadyPresent,
    AlreadyStarted,
    CallingSelf,
    CallTimeout,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildSpecError,
    MaxChildren,
    NoProcess,
    OTPError,
    StartChildError,
)
from ._genserver import GenServer, whereis
from ._messages import (
    KILLED,
    NOREPLY,
    NORMAL,
    SHUTDOWN,
    Caller,
    Continue,
    Down,
    MonitorRef,
    NoReply,
    Reply,
    Shutdown,
    Stop,
    is_normal,
)
from ._observer import (
    ChildrenSummary,
    Hooks,
    Intensity,
    ProcessInfo,
    Snapshot,
    instrument,
    observe,
    snapshot,
    snapshot_async,
)
from ._registry import Registry
from ._supervisor import MAX_RESTARTS_REACHED, ChildCounts, ChildInfo, Supervisor
from ._tasks import TIMEOUT, Exit, Ok, TaskHandle, TaskSupervisor
from ._via import DUPLICATE, UNIQUE, Keys, Via, via

__all__ = [
    "DUPLICATE",
    "KILLED",
    "MAX_RESTARTS_REACHED",
    "NOREPLY",
    "NORMAL",
    "ONE_FOR_ALL",
    "ONE_FOR_ONE",
    "PERMANENT",
    "REST_FOR_ONE",
    "SHUTDOWN",
    "SUPERVISOR",
    "TEMPORARY",
    "TIMEOUT",
    "TRANSIENT",
    "UNIQUE",
    "WORKER",
    "Agent",
    "AlreadyPresent",
    "AlreadyStarted",
    "CallTimeout",
    "Caller",
    "CallingSelf",
    "ChildCounts",
    "ChildInfo",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildSpecError",
    "ChildType",
    "ChildrenSummary",
    "Continue",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "GenServer",
    "Hooks",
    "Intensity",
    "JsonFormatter",
    "Keys",
    "MaxChildren",
    "MonitorRef",
    "NoProcess",
    "NoReply",
    "OTPError",
    "Ok",
    "ProcessInfo",
    "Registry",
    "Reply",
    "Restart",
    "Shutdown",
    "Snapshot",
    "StartChildError",
    "Stop",
    "Strategy",
    "Supervisor",
    "TaskHandle",
    "TaskSupervisor",
    "Via",
    "instrument",
    "is_normal",
    "observe",
    "run",
    "serve",
    "snapshot",
    "snapshot_async",
    "via",
    "whereis",
]
