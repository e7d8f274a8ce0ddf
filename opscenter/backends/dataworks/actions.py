"""Acting on a DataWorks workspace as the local backend acts: refused when read-only,
checked first by the domain's preconditions, each id's outcome checked (a 200 can hide
per-id failures, spec 3.4), and every outcome (done, refused or unknown) audited. A rerun
of the downstream is sent here wave by wave, since no API reruns downstream (spec 6)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import Api
from opscenter.backends.dataworks.audit import AuditFile
from opscenter.backends.dataworks.calls import OutcomeUnknown
from opscenter.backends.dataworks.reads import Reads
from opscenter.domain.preconditions import (
    KEPT_BELOW,
    ActionTarget,
    check_action,
    check_below,
    read_only_refusal,
)
from opscenter.domain.records import ActionRefused, ActionResult, InstanceInfo, counted


class Actions:
    """The workspace's instance and node actions, audited."""

    def __init__(self, api: Api, reads: Reads, audit: AuditFile, readonly: bool) -> None:
        self.api = api
        self.reads = reads
        self.audit = audit
        self.readonly = readonly

    def act(
        self, action: str, targets: Sequence[int | str], call: Callable[[], ActionResult]
    ) -> ActionResult:
        """Refuse read-only, run, and audit the outcome (ok or refused) either way."""
        try:
            if self.readonly:
                raise ActionRefused(read_only_refusal(action))
            result = call()
        except ActionRefused as refused:
            outcome = "unknown" if isinstance(refused, OutcomeUnknown) else "refused"
            self.audit.write(action, targets, outcome, refused.reason)
            raise
        self.audit.write(action, targets, "ok", result.message)
        return result

    # -- instances ------------------------------------------------------------------------

    def _batch(self, verb: str, ids: Sequence[int]) -> list[int]:
        """Sent, and each id's outcome checked: a refusal names every id that failed."""
        outcome = self.api.send(verb, ids)
        done = [i for i in ids if outcome[i] is None]
        failed = [f"#{i}: {outcome[i]}" for i in ids if outcome[i] is not None]
        if failed:
            reason = f"{verb} failed for {len(failed)} of {len(ids)}: " + "; ".join(failed)
            if done:
                reason += f" (done: {', '.join(f'#{i}' for i in done)})"
            raise ActionRefused(reason)
        return done

    def on_instances(self, verb: str, ids: Sequence[int]) -> ActionResult:
        """Every id an instance of this workspace, or NotFound before anything is sent, as
        the local backend refuses the whole batch."""

        def call() -> ActionResult:
            self.api.check_exist(ids)
            done = self._batch(verb, ids)
            return ActionResult(
                verb, done, f"{counted(len(done), 'instance')}: {verb} done by DataWorks"
            )

        return self.act(verb, list(ids), call)

    def rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        if not downstream:
            return self.on_instances("rerun", instance_ids)
        return self.act(
            "rerun downstream", list(instance_ids), lambda: self._rerun_waves(instance_ids)
        )

    def _rerun_waves(self, ids: Sequence[int]) -> ActionResult:
        """The descendants rerun wave by wave in dependency order; a failed wave stops the
        later ones. Checked first as the local backend checks it, so a refusal comes
        before any wave is sent."""
        self._check_rerun("rerun downstream", ids)
        waves = self._downstream_waves(ids)
        done: list[int] = []
        for number, wave in enumerate(waves):
            try:
                done += self._batch("rerun", wave)
            except ActionRefused as refused:
                left = [i for w in waves[number + 1 :] for i in w]
                extra = f"; not attempted: {', '.join(f'#{i}' for i in left)}" if left else ""
                earlier = f"; rerun before: {', '.join(f'#{i}' for i in done)}" if done else ""
                raise ActionRefused(refused.reason + earlier + extra) from None
        return ActionResult(
            "rerun downstream",
            done,
            f"{counted(len(done), 'instance')} rerun in {counted(len(waves), 'wave')} "
            "of dependency order",
        )

    def _downstream_waves(self, ids: Sequence[int]) -> list[list[int]]:
        """The chosen instances, then their same-cycle descendants in topological waves;
        frozen descendants stay as they are, a running one (or one whose node denies
        reruns) refuses the whole rerun."""
        parents: dict[int, set[int]] = {i: set() for i in ids}
        infos: dict[int, InstanceInfo] = {}
        frontier = list(ids)
        while frontier:
            nxt: list[int] = []
            for parent in frontier:
                for cross, child in self.api.neighbours(parent, "down"):
                    if cross or child.id in ids:
                        continue
                    if child.id not in parents:
                        parents[child.id] = set()
                        infos[child.id] = child
                        nxt.append(child.id)
                    parents[child.id].add(parent)
            frontier = nxt
        frozen = {i.id for i in infos.values() if i.status in KEPT_BELOW}
        check_below(self._target(i) for i in infos.values() if i.id not in frozen)
        waves: list[list[int]] = []
        placed: set[int] = set()
        while len(placed) < len(parents):
            wave = sorted(i for i, up in parents.items() if i not in placed and up <= placed)
            placed.update(wave)
            waves.append([i for i in wave if i not in frozen])
        return [w for w in waves if w]

    def preview_rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        """What rerun would send, checked here as the local backend checks it."""
        action = "rerun downstream" if downstream else "rerun"
        self._check_rerun(action, instance_ids)
        waves = self._downstream_waves(instance_ids) if downstream else [list(instance_ids)]
        affected = [i for w in waves for i in w]
        return ActionResult(
            action, affected, f"{counted(len(affected), 'instance')} would be rerun"
        )

    def _target(self, item: InstanceInfo) -> ActionTarget:
        """What the preconditions look at: the instance's status, its task's rerun mode."""
        mode = records.rerun_mode(self.api.tasks.get(item.node_id))
        return ActionTarget(item.id, item.node, item.status, mode)

    def _check_rerun(self, action: str, ids: Sequence[int]) -> None:
        """The domain's rerun preconditions on the instances as DataWorks reports them."""
        check_action(action, [self._target(self.api.instance(i)) for i in ids])

    # -- nodes ----------------------------------------------------------------------------

    def set_recurrence(self, node: str, recurrence: str) -> ActionResult:
        """Freeze (Pause) or unfreeze (Normal) a node."""
        action, verb = ("freeze", "frozen") if recurrence == "Pause" else ("unfreeze", "unfrozen")

        def call() -> ActionResult:
            task_id = self.reads.get_node(node).id
            self.api.set_recurrence(task_id, recurrence)
            self.api.tasks.forget()
            return ActionResult(f"{action} node", [task_id], f"node {node} {verb} in DataWorks")

        return self.act(f"{action} node", [node], call)

    def undeploy(self, node: str) -> ActionResult:
        def call() -> ActionResult:
            result = self.api.undeploy(node, self.reads.get_node(node).id)
            self.api.tasks.forget()
            return result

        return self.act("undeploy", [node], call)
