"""Acting on a DataWorks workspace as the local backend acts: refused when read-only,
checked first by the domain's preconditions, each id's outcome checked (a 200 can hide
per-id failures, spec 3.4), and every outcome (done, refused or unknown) audited. A rerun
of the downstream is sent here wave by wave, since no API reruns downstream (spec 6)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import Api
from opscenter.backends.dataworks.audit import AuditFile
from opscenter.backends.dataworks.calls import OutcomeUnknown
from opscenter.backends.dataworks.reads import Reads
from opscenter.backends.dataworks.vocabulary import MANUAL_TRIGGER
from opscenter.domain.preconditions import (
    KEPT_BELOW,
    ActionTarget,
    check_action,
    check_below,
    priority_refusal,
    read_only_refusal,
    upstreams_to_remove,
)
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    InstanceInfo,
    counted,
    with_comment,
)


class Actions:
    """The workspace's instance and node actions, audited."""

    def __init__(self, api: Api, reads: Reads, audit: AuditFile, readonly: bool) -> None:
        self.api = api
        self.reads = reads
        self.audit = audit
        self.readonly = readonly

    def act(
        self,
        action: str,
        targets: Sequence[int | str],
        call: Callable[[], ActionResult],
        comment: str = "",
    ) -> ActionResult:
        """Refuse read-only, run, and audit the outcome (ok or refused) either way, with
        the operator's comment."""
        try:
            if self.readonly:
                raise ActionRefused(read_only_refusal(action))
            result = call()
        except ActionRefused as refused:
            outcome = "unknown" if isinstance(refused, OutcomeUnknown) else "refused"
            self.audit.write(action, targets, outcome, with_comment(refused.reason, comment))
            raise
        self.audit.write(action, targets, "ok", with_comment(result.message, comment))
        return result

    def _act_or_preview(
        self,
        action: str,
        targets: Sequence[int | str],
        call: Callable[[], ActionResult],
        comment: str,
        preview: bool,
    ) -> ActionResult:
        """A preview only reads (the call sends nothing then) and is not audited; under
        read-only it answers the refusal the act would meet, as the local backend does."""
        if not preview:
            return self.act(action, targets, call, comment)
        if self.readonly:
            raise ActionRefused(read_only_refusal(action))
        return call()

    # -- instances ------------------------------------------------------------------------

    def _batch(self, verb: str, ids: Sequence[int]) -> list[int]:
        """Sent, and each id's outcome checked."""
        return self._done(verb, ids, self.api.send(verb, ids))

    @staticmethod
    def _done(verb: str, ids: Sequence[int], outcome: dict[int, str | None]) -> list[int]:
        """The ids done; a refusal names every id that failed (and the ones done)."""
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

    # -- emergency operations (spec 6.1) --------------------------------------------------

    def remove_upstream(
        self, instance_id: int, upstream_ids: Sequence[int] | None, comment: str, preview: bool
    ) -> ActionResult:
        """The instance's status checked, the upstream instances chosen (by default every
        one not SUCCESS) among its upstream as DataWorks lists it, then removed."""

        def call() -> ActionResult:
            item = self.api.instance(instance_id)
            check_action("remove upstream", [self._target(item)])
            upstream = {u.id: u for _, u in self.api.neighbours(instance_id, "up")}
            this = f"#{instance_id} {item.node}"
            chosen = upstreams_to_remove(
                this,
                {i: u.status for i, u in upstream.items()},
                upstream_ids,
            )
            self.api.remove_dependencies(instance_id, chosen, comment, preview=preview)
            names = ", ".join(f"{upstream[i].node} #{i}" for i in chosen)
            done = "would be removed" if preview else "removed by DataWorks"
            return ActionResult(
                "remove upstream",
                chosen,
                f"{counted(len(chosen), 'upstream')} of {this} {done} ({names})",
            )

        return self._act_or_preview("remove upstream", [instance_id], call, comment, preview)

    def update_instances(
        self,
        instance_ids: Sequence[int],
        priority: int | None,
        resource_group: str | None,
        comment: str,
        preview: bool,
    ) -> ActionResult:
        """Priorities DataWorks takes, every instance not finished, then one batch."""

        def call() -> ActionResult:
            if priority is None and not resource_group:
                raise ActionRefused("nothing to change: give a priority or a resource group")
            if priority is not None and (why := priority_refusal(priority)):
                raise ActionRefused(why)
            found = self.api.existing(instance_ids)  # one batch where DataWorks has one
            check_action("update", [self._target(found[i]) for i in instance_ids])
            outcome = self.api.update_instances(
                instance_ids, priority, resource_group, comment, preview=preview
            )
            done = self._done("update", instance_ids, outcome)
            changes = " and ".join(
                part
                for part in (
                    f"priority {priority}" if priority is not None else "",
                    f"resource group {resource_group}" if resource_group else "",
                )
                if part
            )
            said = "would be set" if preview else "set by DataWorks"
            return ActionResult(
                "update",
                done,
                f"{counted(len(done), 'instance')}: {changes} {said}",
            )

        return self._act_or_preview("update", list(instance_ids), call, comment, preview)

    # -- runs on demand (spec 6.5) --------------------------------------------------------

    def test_run(self, node: str, bizdate: date, comment: str, preview: bool) -> ActionResult:
        """One test instance of an auto-triggered node."""

        def call() -> ActionResult:
            task_id = self.reads.get_node(node).id
            if (self.api.tasks.get(task_id).get("Trigger") or {}).get("Type") == MANUAL_TRIGGER:
                raise ActionRefused(
                    f"node {node} is manually triggered and has no schedule to test: "
                    f"run its workflow for {bizdate} instead (a manual run)"
                )
            what = f"test instance of {node} for business date {bizdate}"
            if preview:
                return ActionResult(
                    "test run preview", [], f"would create {what}", {"instances": 1}
                )
            ids = self.api.test_run(task_id, bizdate, comment)
            shown = ", ".join(f"#{i}" for i in ids)
            return ActionResult("test run", ids, f"{what} created in DataWorks: {shown}")

        return self._act_or_preview("test run", [node, bizdate.isoformat()], call, comment, preview)

    def run_manual(
        self, workflow: str, bizdate: date, nodes: Sequence[str], comment: str, preview: bool
    ) -> ActionResult:
        """A manually triggered workflow, or the chosen nodes of it, run for ``bizdate``."""

        def call() -> ActionResult:
            flow = self.api.manual_workflow(workflow)
            stray = [n for n in nodes if n not in flow.nodes]
            if stray:
                raise ActionRefused(
                    f"not in manual workflow {workflow}: {', '.join(stray)} "
                    f"(its nodes: {', '.join(sorted(flow.nodes))})"
                )
            chosen = [n for n in sorted(flow.nodes) if not nodes or n in nodes]
            what = f"manual run of workflow {workflow} for business date {bizdate}"
            if preview:
                return ActionResult(
                    "run manual preview",
                    [],
                    f"would create {what}: {counted(len(chosen), 'instance')} "
                    f"({', '.join(chosen)})",
                    {"instances": len(chosen)},
                )
            ids = self.api.run_manual(
                flow, bizdate, [flow.nodes[n] for n in chosen if nodes], comment
            )
            return ActionResult(
                "run manual",
                ids,
                f"{what} created in DataWorks: {counted(len(ids), 'instance')} "
                f"{', '.join(f'#{i}' for i in ids)} ({', '.join(chosen)})",
            )

        targets = [workflow, *nodes, bizdate.isoformat()]
        return self._act_or_preview("run manual", targets, call, comment, preview)

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
