"""The verbs of the emergency operations on instances (unblock: remove upstream
dependencies; priority; move to another resource group) and of the runs on demand
(test-run, run a manual workflow), spec 6.1 and 6.5.

Each is one Backend call with the operator's ``--comment`` (audited there); with
``--preview`` the backend answers what it would do and does nothing. ``unblock --preview``
names each upstream it would remove and what the removal does to the baselines.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from opscenter.backends.base import Backend
from opscenter.domain.records import NO_BASELINE, ActionResult, counted
from opscenter.domain.times import TimeView
from opscenter.options import Options
from opscenter.verbs.acting import impact_line
from opscenter.verbs.output import emit, time_view


def _said(result: ActionResult, label: str, lines: Sequence[str] = ()) -> str:
    """``action: message``, the affected ids under ``label``, then any further lines."""
    ids = f"\n  {label}: {', '.join(map(str, result.affected))}" if result.affected else ""
    return f"{result.action}: {result.message}{ids}" + "".join(f"\n  {x}" for x in lines)


def _done(
    args: argparse.Namespace, result: ActionResult, would: str, label: str = "instances"
) -> int:
    """The backend's words; a preview says what ``would`` be done, and that nothing was."""
    if args.preview:
        result = _previewed(result, would)
    emit(args, result, lambda: _said(result, label))
    return 0


def _previewed(result: ActionResult, would: str, **extra: object) -> ActionResult:
    return dataclasses.replace(
        result,
        action=f"{result.action.removesuffix(' preview')} preview",  # said once, either way
        message=f"{would}; nothing was done",
        extra={**result.extra, **extra},
    )


def unblock(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    result = backend.remove_upstream(args.id, args.upstream, args.comment, preview=args.preview)
    if not args.preview:
        return _done(args, result, "", "upstream instances removed")
    view = time_view(backend, options)
    upstreams = [_upstream(backend, i, view) for i in result.affected]
    found = backend.baseline_impact("remove_upstream", [args.id])
    baselines = None if found is None else [impact_line(i, view) for i in found]
    would = f"#{args.id} would no longer wait for {counted(len(upstreams), 'upstream instance')}"
    shown = _previewed(result, would, upstreams=upstreams, baselines=baselines)
    lines = [
        *(f"  {u}" for u in upstreams),
        *(
            ["baselines: not predicted by this backend"]
            if baselines is None
            else baselines or [NO_BASELINE]
        ),
    ]
    emit(args, shown, lambda: _said(shown, "upstream instances", lines), view)
    return 0


def _upstream(backend: Backend, instance_id: int, view: TimeView) -> str:
    """``#66 ods_products_snapshot 11-20 01:00 CST ✗ FAILURE``: the cyctime with its zone."""
    info = backend.get_instance(instance_id)
    return f"#{info.id} {info.node} {view.wall(info.cyctime, '%m-%d %H:%M')} {info.status_label}"


def priority(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    result = backend.update_instances(
        args.ids, priority=args.priority, comment=args.comment, preview=args.preview
    )
    would = f"{counted(len(result.affected), 'instance')} would run at priority {args.priority}"
    return _done(args, result, would)


def move(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    result = backend.update_instances(
        args.ids, resource_group=args.group, comment=args.comment, preview=args.preview
    )
    would = f"{counted(len(result.affected), 'instance')} would run in resource group {args.group}"
    return _done(args, result, would)


def test_run(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    result = backend.test_run(args.node, args.bizdate, comment=args.comment, preview=args.preview)
    would = f"a test instance of {args.node} would run for business date {args.bizdate}"
    return _done(args, result, would)


def run(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    result = backend.run_manual(
        args.workflow, args.bizdate, args.nodes, comment=args.comment, preview=args.preview
    )
    created = result.extra.get("instances", len(result.affected))  # a preview keeps no ids
    would = (
        f"{counted(created, 'manual instance')} of workflow {args.workflow} "
        f"would run for business date {args.bizdate}"
    )
    return _done(args, result, would)
