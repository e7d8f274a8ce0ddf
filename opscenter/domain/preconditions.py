"""Which statuses each instance action accepts, and the words of a refusal (spec 3.3, 6.1,
7.4 for events).

One table for every backend: the local actions check it inside their transaction, the
DataWorks backend checks it before it sends a rerun (and the emulator serves DataWorks'
operations with the local actions), so an operator reads the same refusal over both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from opscenter.domain.model import EVENT_MOVES, RerunMode, Status
from opscenter.domain.records import ActionRefused

RERUN_FROM = (Status.SUCCESS, Status.FAILURE, Status.NOT_RUN)
SET_SUCCESS_FROM = (Status.FAILURE,)  # "sets a failed instance to successful"
STOP_FROM = (Status.RUNNING, Status.WAIT_TIME, Status.WAIT_RESOURCE)
FREEZE_FROM = (Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE, Status.RUNNING)
UNFREEZE_FROM = (Status.FROZEN,)
# A rerun downstream resets its descendants from any of these; a running descendant refuses
# the rerun (stop it first) and a frozen one stays as it is.
RESET_BELOW_FROM = (*RERUN_FROM, Status.WAIT_TIME, Status.WAIT_RESOURCE)
KEPT_BELOW = (Status.FROZEN,)
# Emergency operations (spec 6.1): remove upstream dependencies of one instance; change
# the priority or resource group of instances not finished (DataWorks' priorities).
REMOVE_UPSTREAM_FROM = (Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE, Status.FAILURE)
UPDATE_FROM = tuple(s for s in Status if not s.finished)
PRIORITIES = (1, 3, 5, 7, 8)  # DataWorks' priorities: of instances, nodes and baselines

ALLOWED_FROM: dict[str, tuple[Status, ...]] = {
    "rerun": RERUN_FROM,
    "rerun downstream": RERUN_FROM,
    "set success": SET_SUCCESS_FROM,
    "stop": STOP_FROM,
    "freeze": FREEZE_FROM,
    "unfreeze": UNFREEZE_FROM,
    "remove upstream": REMOVE_UPSTREAM_FROM,
    "update": UPDATE_FROM,
}


class Target(Protocol):
    """What a precondition looks at: the instance, its status and its node's rerun mode."""

    @property
    def id(self) -> int: ...
    @property
    def node(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def rerun_mode(self) -> str: ...


@dataclass(frozen=True)
class ActionTarget:
    id: int
    node: str
    status: Status
    rerun_mode: str = RerunMode.ALLOWED.value


def _words(statuses: Iterable[Status]) -> str:
    return ", ".join(s.value for s in statuses)


def rerun_mode_refusal(status: Status, rerun_mode: str) -> str | None:
    """Spec 6.1: ``Allowed`` reruns anything, ``FailureAllowed`` not after a success,
    ``Denied`` never."""
    if rerun_mode == RerunMode.DENIED.value:
        return "its node's rerun mode is Denied"
    if rerun_mode == RerunMode.FAILURE_ALLOWED.value and status is Status.SUCCESS:
        return "its node's rerun mode is FailureAllowed and it succeeded"
    return None


def refusal(action: str, status: Status, rerun_mode: str = RerunMode.ALLOWED.value) -> str | None:
    """Why ``action`` may not act on an instance in ``status`` (None: it may)."""
    allowed = ALLOWED_FROM[action]
    if status in allowed:
        return rerun_mode_refusal(status, rerun_mode) if allowed is RERUN_FROM else None
    if action == "set success":
        return f"is {status.value}; only a FAILURE can be set to success"
    if action == "unfreeze":
        return f"is {status.value}, not FROZEN"
    if action == "update":
        return f"is {status.value}: a finished instance keeps its priority and resource group"
    return f"is {status.value}; {action.split()[0]} needs {_words(allowed)}"


def priority_refusal(priority: int) -> str | None:
    """Why DataWorks would not take this instance priority (None: it would)."""
    if priority in PRIORITIES:
        return None
    accepted = ", ".join(map(str, PRIORITIES))
    return f"priority {priority} is not one DataWorks accepts: one of {accepted}"


def upstreams_to_remove(
    this: str, upstream: Mapping[int, Status], chosen: Sequence[int] | None
) -> list[int]:
    """Spec 6.1: which upstream instances a removal takes from the instance named ``this``
    (``#12 report``), given its upstream instances' statuses: the ones ``chosen``, each of
    which must be one of them, or by default every one not SUCCESS."""
    if chosen is None:
        found = sorted(i for i, status in upstream.items() if status is not Status.SUCCESS)
        if not found:
            raise ActionRefused(f"{this}: no upstream instance waited for; nothing to remove")
        return found
    found = list(dict.fromkeys(chosen))
    if not found:
        raise ActionRefused(f"{this}: no upstream instance given")
    strangers = [i for i in found if i not in upstream]
    if strangers:
        named = ", ".join(f"#{i}" for i in strangers)
        raise ActionRefused(f"{this}: {named} not an upstream instance of it")
    return found


RUNS_READ_ONLY = "opscenter runs read-only (--readonly)"


def read_only_refusal(action: str, why: str = "") -> str:
    """Why nothing is done in a read-only world (``why``: a store this process cannot write;
    by default ``--readonly``): said once, as ``refused: <this>`` on the command line and
    under the console's "refused" title (never "rerun refused" again)."""
    return f"{action} is not available: {why or RUNS_READ_ONLY}"


_CLOSED = {"RECOVER": "recovered", "IGNORE": "ignored"}


def event_refusal(event_id: int, status: str, wanted: str) -> str | None:
    """Why an event in ``status`` may not be set to ``wanted`` (None: it may). A recovered
    or ignored event is finished: nothing more can be done to it, whatever is asked."""
    allowed = EVENT_MOVES.get(status, ())
    if wanted in allowed:
        return None
    if not allowed:
        done = _CLOSED.get(status, "closed")
        return (
            f"event #{event_id} is {status}: already {done}, it is finished and nothing more "
            "can be done to it"
        )
    return f"event #{event_id} is {status}; it can only be set to {' or '.join(allowed)}"


def descendant_refusal(status: Status, rerun_mode: str) -> str | None:
    """Why a rerun downstream may not reset this descendant (frozen ones are kept, not
    refused)."""
    if status is Status.RUNNING:
        return f"descendant is {status.value}; stop it first"
    if rerun_mode == RerunMode.DENIED.value:
        return "descendant's rerun mode is Denied"
    return None


def check(targets: Iterable[Target], why_not: Callable[[Target], str | None]) -> None:
    """Refuse the whole batch, naming each target that fails and why."""
    reasons = [f"#{t.id} {t.node}: {reason}" for t in targets if (reason := why_not(t))]
    if reasons:
        raise ActionRefused("; ".join(reasons))


def check_action(action: str, targets: Iterable[Target]) -> None:
    """Refuse ``action`` on the batch unless every target's status (and, for a rerun, its
    node's rerun mode) allows it."""
    check(targets, lambda t: refusal(action, t.status, t.rerun_mode))


def check_below(descendants: Iterable[Target]) -> None:
    """Refuse a rerun downstream over a descendant it may not reset."""
    check(descendants, lambda t: descendant_refusal(t.status, t.rerun_mode))
