"""The local audit of what this console did to a DataWorks workspace: DataWorks keeps no
audit of our actions for 2020 workspaces and only 31 days for 2024 ones, so every action
(and refusal) is also written here, one JSON line each, in an owner-only file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from opscenter.domain.clock import Clock
from opscenter.domain.records import AuditEntry
from opscenter.domain.times import to_store
from opscenter.store.files import make_private_dirs, open_for_append


class AuditFile:
    """Entries appended by ``user`` at the clock's time; read back newest first."""

    def __init__(self, path: Path, clock: Clock, user: str) -> None:
        self.path = path
        self.clock = clock
        self.user = user

    def write(self, action: str, targets: Sequence[int | str], outcome: str, detail: str) -> None:
        entry = {
            "at": to_store(self.clock.now()).isoformat(),
            "user": self.user,
            "action": action,
            "targets": list(targets),
            "outcome": outcome,
            "detail": detail,
            "source": "dataworks",
        }
        make_private_dirs(self.path.parent)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = open_for_append(self.path)  # owner-only, as the local state is
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def entries(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Entries newest first; an entry's id is its line number in the file."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        entries = [
            AuditEntry(
                number,
                datetime.fromisoformat(e["at"]),
                e["user"],
                e["action"],
                e["targets"],
                e["outcome"],
                e["detail"],
                e["source"],
                datetime.fromisoformat(e["at"]),  # DataWorks' world is in real time
            )
            for number, e in ((n, json.loads(line)) for n, line in enumerate(lines, 1) if line)
            if before_id is None or number < before_id
        ]
        return entries[::-1][:limit]
