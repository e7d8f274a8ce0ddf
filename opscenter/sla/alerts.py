"""Custom alert rules (spec 7.5): record once, re-send within limits, notify a webhook.

Each alert is recorded once per (rule, target) — an instance, or a baseline
instance — and re-sent every ``interval`` while its condition holds, at most
``max`` times, never during quiet hours. The store is always a channel (the
console lists alerts); a webhook is optional and is posted from a thread of its
own, each post bounded in total time (not per read: a server trickling one byte at a
time would otherwise hold a post for ever) and retried with backoff, so a dead webhook
never slows the scheduler. Its failures are recorded on the alert.

Webhook body (JSON, POST):
    {"alert_id": 12, "rule": "dashboard_late", "trigger": "BaselineWarning",
     "target": "baseline:1:2026-11-21:1", "message": "...", "workspace": "shop",
     "first_at": "2026-11-22T00:31:00Z", "sent_at": "...", "send": 1, "max": 3}
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Row, insert, select, update

from opscenter.domain.model import AlertRule, AlertTrigger, InstanceKind
from opscenter.domain.rules import committed_moment
from opscenter.domain.times import show_moment, show_wall, to_local
from opscenter.store.models import (
    AlertRow,
    BaselineInstanceRow,
    BaselineRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    WorkspaceRow,
)
from opscenter.store.tx import inserted_id, writing


class _NoTokensInLogs(logging.Filter):
    """httpx logs each request's URL at INFO, and a webhook URL carries its token in the
    query (DingTalk's access_token) or the path (Slack, Feishu): only the host is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        import httpx  # loaded already: it is httpx that logs

        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{arg.scheme}://{arg.netloc.decode()}/..." if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_NoTokensInLogs())

ACTIVE_DAYS = 2


@dataclass(frozen=True)
class Firing:
    """A rule's condition holding for one target now."""

    target: str
    message: str


class Notifier:
    """Posts webhooks on its own thread: at most ``timeout`` seconds in all per post (connect,
    headers and body together), ``retries`` posts with doubling backoff between them."""

    def __init__(
        self,
        db: Engine,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> None:
        self.db = db
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._queue: queue.Queue[tuple[int, str, dict] | None] = queue.Queue(maxsize=10_000)
        self._thread = threading.Thread(target=self._run, name="webhook-notifier", daemon=True)
        self._thread.start()

    def send(self, alert_id: int, url: str, payload: dict) -> None:
        try:
            self._queue.put_nowait((alert_id, url, payload))
        except queue.Full:
            self._record(alert_id, "not sent: the webhook queue is full (the webhook is too slow)")

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued was posted or given up (tests, shutdown)."""
        deadline = _time.monotonic() + timeout
        while self._queue.unfinished_tasks and _time.monotonic() < deadline:
            _time.sleep(0.02)

    def close(self, grace: float = 2.0) -> None:
        """Give queued posts a moment, then go: shutdown never waits on a dead webhook."""
        self.flush(timeout=grace)
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            return
        self._thread.join(timeout=grace)

    def _run(self) -> None:
        # a plain daemon thread waits for work, so a process that never closes its notifier
        # still exits; each post runs in an event loop of its own, the one way to cut a post
        # mid-read when its time is up
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._post(*item)
            finally:
                self._queue.task_done()

    def _post(self, alert_id: int, url: str, payload: dict) -> None:
        error = ""
        for attempt in range(1, self.retries + 1):
            error = asyncio.run(self._post_once(url, payload))
            if not error:
                self._record(alert_id, "")
                return
            error = f"{error} (attempt {attempt})"
            if attempt < self.retries:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        self._record(alert_id, error)

    async def _post_once(self, url: str, payload: dict) -> str:
        """One post, bounded in total time: "" if the webhook took it, else why not."""
        import httpx  # here, not for every process that reads alerts

        try:
            async with asyncio.timeout(self.timeout):
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.post(url, json=payload)
        except TimeoutError:
            return f"webhook did not answer within {self.timeout:g} s in all"
        except httpx.HTTPError as exc:
            return f"webhook failed: {type(exc).__name__}: {exc}"
        if response.status_code < 300:
            return ""
        return f"webhook answered HTTP {response.status_code}"

    def _record(self, alert_id: int, error: str) -> None:
        try:
            with writing(self.db) as conn:
                conn.execute(
                    update(AlertRow).where(AlertRow.id == alert_id).values(last_error=error)
                )
        except Exception:  # noqa: BLE001 - recording a webhook failure must never kill the thread
            pass


class AlertMonitor:
    def __init__(self, db: Engine, workspace_id: int, notifier: Notifier | None = None) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.notifier = notifier
        with db.connect() as conn:
            ws = conn.execute(select(WorkspaceRow).where(WorkspaceRow.id == workspace_id)).one()
        self.workspace = ws.name
        self.zone = ZoneInfo(ws.timezone)

    def _rules(self, conn: Connection) -> list[AlertRule]:
        raw = conn.scalar(
            select(WorkspaceRow.alert_rules).where(WorkspaceRow.id == self.workspace_id)
        )
        rules = []
        for item in raw or []:
            values = dict(item)
            values["trigger"] = AlertTrigger(values["trigger"])
            values["nodes"] = tuple(values["nodes"])
            values["baselines"] = tuple(values["baselines"])
            values["quiet_hours"] = tuple(values["quiet_hours"]) if values["quiet_hours"] else None
            rules.append(AlertRule(**values))
        return rules

    def check(self, now: datetime) -> None:
        """Evaluate every rule at ``now`` (naive UTC): record, re-send, resolve."""
        with self.db.connect() as conn:
            if not self._rules(conn):
                return  # the store's write lock is not taken for no rule, every update
        outgoing: list[tuple[int, str, dict]] = []
        with writing(self.db) as conn:
            for rule in self._rules(conn):
                firing = {f.target: f for f in self._firing(conn, rule, now)}
                outgoing += self._settle(conn, rule, firing, now)
        if self.notifier:
            for alert_id, url, payload in outgoing:
                self.notifier.send(alert_id, url, payload)

    # -- conditions -------------------------------------------------------------

    def _bizdates(self, now: datetime) -> list[date]:
        today = to_local(now, self.zone).date()
        return [today - timedelta(days=d) for d in range(ACTIVE_DAYS + 1)]

    def _firing(self, conn: Connection, rule: AlertRule, now: datetime) -> list[Firing]:
        if rule.trigger.on_baselines:
            wanted = "WARNING" if rule.trigger is AlertTrigger.BASELINE_WARNING else "OVER"
            rows = conn.execute(
                select(BaselineInstanceRow, BaselineRow.name)
                .join(BaselineRow, BaselineRow.id == BaselineInstanceRow.baseline_id)
                .where(
                    BaselineRow.workspace_id == self.workspace_id,
                    BaselineRow.name.in_(rule.baselines),
                    BaselineInstanceRow.bizdate.in_(self._bizdates(now)),
                    BaselineInstanceRow.status == wanted,
                )
            ).all()
            return [
                Firing(
                    f"baseline:{r.baseline_id}:{r.bizdate}:{r.cycle}",
                    f"baseline {r.name} is {wanted} for bizdate {r.bizdate:%Y%m%d}: "
                    f"{_outlook(r, self.zone)}, "
                    f"committed {_local(r.committed_at, self.zone)}",
                )
                for r in rows
            ]
        query = (
            select(
                InstanceRow.id,
                NodeRow.name,
                InstanceRow.status,
                InstanceRow.cyctime,
                InstanceRow.bizdate,
                InstanceRow.started_at,
                InstanceRow.retry_at,
            )
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
            .where(
                InstanceRow.workspace_id == self.workspace_id,
                # spec 7.5: auto triggered instances only, never test, manual or backfill ones
                InstanceRow.kind == InstanceKind.PERIODIC.value,
                NodeRow.name.in_(rule.nodes),
                InstanceRow.bizdate.in_(self._bizdates(now)),
            )
        )
        trigger = rule.trigger
        if trigger is AlertTrigger.ERROR:
            query = query.where(InstanceRow.status == "FAILURE")
        elif trigger is AlertTrigger.EXHAUSTED_ERROR:
            query = query.where(InstanceRow.status == "FAILURE", InstanceRow.retry_at.is_(None))
        elif trigger is AlertTrigger.TIMEOUT:
            query = query.where(
                InstanceRow.status == "RUNNING",
                # spec 7.5: running *longer* than N minutes
                InstanceRow.started_at < now - timedelta(minutes=rule.minutes),
            )
        else:  # UnFinished
            query = query.where(InstanceRow.status != "SUCCESS")
        found = []
        for r in conn.execute(query):
            if trigger is AlertTrigger.UNFINISHED and now < committed_moment(
                r.bizdate, rule.at, self.zone
            ):
                continue
            found.append(Firing(f"instance:{r.id}", _describe(trigger, rule, r, self.zone)))
        return found

    # -- recording and sending ----------------------------------------------------

    def _settle(
        self, conn: Connection, rule: AlertRule, firing: dict[str, Firing], now: datetime
    ) -> list[tuple[int, str, dict]]:
        existing = {
            r.target: r
            for r in conn.execute(
                select(AlertRow).where(
                    AlertRow.workspace_id == self.workspace_id, AlertRow.rule == rule.name
                )
            )
        }
        outgoing = []
        for target, fire in firing.items():
            row = existing.get(target)
            if row is None:
                alert_id = inserted_id(
                    conn.execute(
                        insert(AlertRow).values(
                            workspace_id=self.workspace_id,
                            rule=rule.name,
                            target=target,
                            kind=rule.trigger.value,
                            message=fire.message,
                            first_at=now,
                            sent_count=0,
                            last_error="",
                        )
                    )
                )
                sent, last_sent, first_at = 0, None, now
            elif row.resolved_at is not None:
                continue  # recorded once per (rule, target): it does not come back
            else:
                alert_id, sent, last_sent, first_at = (
                    row.id,
                    row.sent_count,
                    row.last_sent_at,
                    row.first_at,
                )
            due = sent == 0 or (
                last_sent is not None
                and sent < rule.max_sends
                and now - last_sent >= timedelta(seconds=rule.interval)
            )
            if not due or self._quiet(rule, now):
                continue
            conn.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(sent_count=sent + 1, last_sent_at=now, message=fire.message)
            )
            if rule.webhook:
                outgoing.append(
                    (
                        alert_id,
                        rule.webhook,
                        {
                            "alert_id": alert_id,
                            "rule": rule.name,
                            "trigger": rule.trigger.value,
                            "target": target,
                            "message": fire.message,
                            "workspace": self.workspace,
                            "first_at": _iso(first_at),
                            "sent_at": _iso(now),
                            "send": sent + 1,
                            "max": rule.max_sends,
                        },
                    )
                )
        for target, row in existing.items():
            if target not in firing and row.resolved_at is None:
                conn.execute(update(AlertRow).where(AlertRow.id == row.id).values(resolved_at=now))
        return outgoing

    def _quiet(self, rule: AlertRule, now: datetime) -> bool:
        if not rule.quiet_hours:
            return False
        local = to_local(now, self.zone).time()
        start, end = (time.fromisoformat(t) for t in rule.quiet_hours)
        return start <= local < end if start <= end else local >= start or local < end


def _describe(trigger: AlertTrigger, rule: AlertRule, r, zone: ZoneInfo) -> str:  # noqa: ANN001
    what = {
        AlertTrigger.ERROR: "failed",
        AlertTrigger.EXHAUSTED_ERROR: "still failing after its auto reruns",
        AlertTrigger.TIMEOUT: f"running longer than {rule.minutes} minutes",
        AlertTrigger.UNFINISHED: f"not finished by {rule.at} ({r.status})",
    }[trigger]
    return f"{r.name} #{r.id} (cyctime {show_wall(r.cyctime, zone)}) {what}"


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    """Alert messages travel (webhooks): each time says its zone."""
    return show_moment(moment, zone, "%m-%d %H:%M")


def _outlook(row: Row, zone: ZoneInfo) -> str:
    """``predicted 09:30``, or what blocks it: a blocked baseline has no finish to predict."""
    if row.blocked_by:
        names = ", ".join(f"{b['node']} #{b['id']} {b['status']}" for b in row.blocked_by)
        rerun = f" (if rerun now {_local(row.if_rerun_now, zone)})" if row.if_rerun_now else ""
        return f"blocked by {names}{rerun}"
    return f"predicted {_local(row.predicted_finish, zone)}"
