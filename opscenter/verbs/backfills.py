"""Backfills: create one over business dates (or preview what it would create), and follow
them, with progress per date."""

from __future__ import annotations

import argparse

from opscenter.backends.base import Backend
from opscenter.domain.records import BackfillRequest
from opscenter.options import Options
from opscenter.verbs.acting import done
from opscenter.verbs.output import emit, time_view


def backfill(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    window = tuple(args.window.split("-", 1)) if args.window else None
    request = BackfillRequest(
        node=args.node,
        start=args.start,
        end=args.end,
        downstream=args.downstream,
        include=tuple(filter(None, (args.include or "").split(","))),
        exclude=tuple(filter(None, (args.exclude or "").split(","))),
        parallel=args.parallel,
        descending=args.desc,
        window=window,
        name=args.name or "",
    )
    if args.preview:
        return done(args, backend.preview_backfill(request))
    return done(args, backend.backfill(request))


def backfills(backend: Backend, args: argparse.Namespace, options: Options) -> int:
    found = [backend.get_backfill(args.id)] if args.id is not None else backend.list_backfills()
    view = time_view(backend, options)

    def text() -> str:
        lines = []
        for b in found:
            lines.append(
                f"#{b.id} {b.name} · {b.status} · {b.dates_done}/{len(b.runs)} dates done · "
                f"parallel {b.parallel} · by {b.created_by} on {view.moment(b.created_at)}"
            )
            for run in b.runs:
                counts = " ".join(f"{s.glyph}{n}" for s, n in run.counts.items() if n)
                lines.append(f"    {run.bizdate:%Y-%m-%d}  {run.status:<8} {counts}")
        return "\n".join(lines) or "no backfills"

    emit(args, found, text, view)
    return 0
