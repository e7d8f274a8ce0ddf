"""A text Gantt of a baseline's key path: what ran (solid), what is predicted (shaded), the promise.

Pure: steps, the clock, the committed and alert times and a width in, lines out,
so it is tested without a screen. One row per step on a time axis scaled to the
width, from the earliest start to the later of the committed time and the last
predicted finish; the committed and alert times are vertical markers, and the
legend says which is which, so it reads without colour (and in ASCII).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from math import ceil, floor

from opscenter.domain.model import DRY_RUN_GLYPH, Status
from opscenter.domain.records import KeyPathStep


@dataclass(frozen=True)
class Glyphs:
    actual: str
    predicted: str
    commit: str
    alert: str
    left: str  # caps around a step's bars ("" for none)
    right: str


UNICODE_GLYPHS = Glyphs("█", "░", "┃", "┊", "▕", "▏")
ASCII_GLYPHS = Glyphs("#", ".", "|", ":", "", "")

TICKS = tuple(
    timedelta(minutes=m) for m in (5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440, 2880)
)
MIN_TRACK = 12
LABEL = "node"


@dataclass(frozen=True)
class Gantt:
    axis: str  # the name column's title, then hour labels over the track
    rows: list[str]  # one per step, in key path order
    legend: str
    name_width: int  # a row's status glyph is at this column + 1

    @property
    def lines(self) -> list[str]:
        return [self.axis, *self.rows, self.legend]


@dataclass(frozen=True)
class _Scale:
    start: datetime
    span: float  # seconds
    width: int

    def x(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds() / self.span * self.width

    def cells(self, begin: datetime, end: datetime) -> range:
        """The cells a bar covers: at least one, inside the track."""
        first = min(max(floor(self.x(begin)), 0), self.width - 1)
        last = min(max(ceil(self.x(end)), first + 1), self.width)
        return range(first, last)

    def cell(self, moment: datetime) -> int:
        return min(max(floor(self.x(moment)), 0), self.width - 1)


def _actual(step: KeyPathStep, now: datetime) -> tuple[datetime, datetime] | None:
    info = step.instance
    if info.started_at is None:
        return None
    end = info.finished_at or (now if info.status is Status.RUNNING else info.started_at)
    return info.started_at, end


def _predicted(step: KeyPathStep, now: datetime) -> tuple[datetime, datetime] | None:
    """What has not happened yet: nothing once it succeeded; from now on while it runs."""
    status = step.instance.status
    if status is Status.SUCCESS:
        return None
    if status is Status.RUNNING:
        return (now, step.est_finish) if step.est_finish > now else None
    return step.est_start, step.est_finish


def _glyph(step: KeyPathStep, unicode: bool) -> str:
    info = step.instance
    if info.dry_run and info.status is Status.SUCCESS:
        return DRY_RUN_GLYPH[0] if unicode else DRY_RUN_GLYPH[1]
    return info.status.glyph if unicode else info.status.ascii_glyph


def _hhmm(moment: datetime, zone: tzinfo) -> str:
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime("%H:%M")


def _axis(scale: _Scale, zone: tzinfo) -> str:
    """Hour labels at round wall-clock times, as many as fit without touching."""
    step = next((t for t in TICKS if t.total_seconds() / scale.span * scale.width >= 7), TICKS[-1])
    local = scale.start.replace(tzinfo=UTC).astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tick = midnight + step * ceil((local - midnight) / step)
    track = [" "] * scale.width
    free = 0
    end = scale.start + timedelta(seconds=scale.span)
    while tick.astimezone(UTC).replace(tzinfo=None) <= end:
        at = scale.cell(tick.astimezone(UTC).replace(tzinfo=None))
        label = f"{tick:%H:%M}"
        if at >= free and at + len(label) <= scale.width:
            track[at : at + len(label)] = label
            free = at + len(label) + 1
        tick += step
    return "".join(track)


def gantt(
    steps: Sequence[KeyPathStep],
    *,
    now: datetime,
    committed: datetime,
    alert: datetime | None,
    width: int,
    zone: tzinfo,
    unicode: bool = True,
) -> Gantt:
    """The key path drawn in ``width`` columns; every moment is naive UTC."""
    marks = UNICODE_GLYPHS if unicode else ASCII_GLYPHS
    actual = [_actual(s, now) for s in steps]
    predicted = [_predicted(s, now) for s in steps]
    moments = [committed, *(s.est_start for s in steps), *(s.est_finish for s in steps)]
    if alert is not None:
        moments.append(alert)
    for bar in (*actual, *predicted):
        if bar is not None:
            moments += bar
    start, end = min(moments), max(moments)
    names = max((len(s.instance.node) for s in steps), default=len(LABEL))
    name_width = max(len(LABEL), min(names, max(8, width // 3)))
    track = max(MIN_TRACK, width - name_width - 3)
    scale = _Scale(start, max((end - start).total_seconds(), 60.0), track)

    rows = []
    for step, done, ahead in zip(steps, actual, predicted, strict=True):
        cells = [" "] * track
        if alert is not None:
            cells[scale.cell(alert)] = marks.alert
        cells[scale.cell(committed)] = marks.commit
        covered: list[int] = []
        for bar, fill in ((ahead, marks.predicted), (done, marks.actual)):
            if bar is not None:
                for i in scale.cells(*bar):
                    cells[i] = fill
                    covered.append(i)
        if covered and marks.left:
            first, last = min(covered), max(covered)
            if first > 0 and cells[first - 1] == " ":
                cells[first - 1] = marks.left
            if last + 1 < track and cells[last + 1] == " ":
                cells[last + 1] = marks.right
        name = _fit(step.instance.node, name_width, unicode)
        rows.append(f"{name} {_glyph(step, unicode)} {''.join(cells)}")
    axis = f"{LABEL:<{name_width}}   {_axis(scale, zone)}"
    legend = [
        f"{marks.actual} actual",
        f"{marks.predicted} predicted",
        f"{marks.commit} committed {_hhmm(committed, zone)}",
    ]
    if alert is not None:
        legend.append(f"{marks.alert} alert {_hhmm(alert, zone)}")
    while len(legend) > 1 and len("  ".join(legend)) > width:  # the times matter most
        legend.pop(0)
    return Gantt(axis, rows, "  ".join(legend), name_width)


def _fit(name: str, width: int, unicode: bool) -> str:
    if len(name) <= width:
        return name.ljust(width)
    return name[: width - 1] + ("…" if unicode else "~")
