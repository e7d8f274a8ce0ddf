"""The verbs that act on instances, nodes and events: each is one Backend action, so the
backend refuses what it must (read-only, a status the action does not apply to) and the
verb prints its words; a rerun can first be previewed with what it does to baselines."""

from __future__ import annotations

import argparse
import dataclasses

from opscenter.backends.base import Backend
from opscenter.domain.records import NO_BASELINE, ActionResult, BaselineImpact, counted
from opscenter.domain.times import TimeView
from opscenter.errors import UsageError
from opscenter.options import Options
from opscenter.verbs.output import emit, time_view


def done(args: argparse.Namespace, result: ActionResult) -> int:
    emit(
        args,
        result,
        lambda: (
            f"{result.action}: {result.message}"
            + (f"\n  instances: {', '.join(map(str, result.affected))}" if result.affected else "")
        ),
    )
    return 0


def rerun(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    if not args.preview:
        return done(args, backend.rerun(args.ids, downstream=args.downstream))
    would = backend.preview_rerun(args.ids, downstream=args.downstream)
    found = backend.baseline_impact("rerun", would.affected)  # the descendants included
    view = time_view(backend, options)
    lines = None if found is None else [impact_line(i, view) for i in found]
    result = dataclasses.replace(
        would,
        action=f"{would.action} preview",
        message=f"{counted(len(would.affected), 'instance')} would be reset to NOT_RUN and rerun; "
        "nothing was done",
        extra={"baselines": lines},
    )
    emit(
        args,
        result,
        lambda: "\n".join(
            [
                f"{result.action}: {result.message}",
                f"  instances: {', '.join(map(str, result.affected))}",
                *(
                    ["  baselines: not predicted by this backend"]
                    if lines is None
                    else [f"  {line}" for line in lines] or [f"  {NO_BASELINE}"]
                ),
            ]
        ),
        view,
    )
    return 0


def impact_line(impact: BaselineImpact, view: TimeView) -> str:
    """A baseline's impact line, its times in the view's zone and labelled once."""
    label = view.moments_label(
        m for b in (impact.before, impact.after) for m in (b.predicted_finish, b.committed_at)
    )
    return f"{impact.describe(view.zone)} · times in {label}"


def set_success(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    return done(args, backend.set_success(args.ids))


def stop(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    return done(args, backend.stop(args.ids))


def _targets_given(args: argparse.Namespace) -> None:
    if not args.ids and not args.node:
        raise UsageError("give instance ids, or --node NAME")


def freeze(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    _targets_given(args)
    if args.node:
        return done(args, backend.freeze_node(args.node))
    return done(args, backend.freeze(args.ids))


def unfreeze(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    _targets_given(args)
    if args.node:
        return done(args, backend.unfreeze_node(args.node))
    return done(args, backend.unfreeze(args.ids))


def undeploy(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    return done(args, backend.undeploy(args.node))


def event(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    return done(args, backend.handle_event(args.id, args.status.upper()))
