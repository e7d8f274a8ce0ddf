"""Over DataWorks too, an instance that succeeded without running has a log saying why:
the backend asks for it with no run number (GetTaskInstanceLog without RunNumber,
GetInstanceLog without InstanceHistoryId) and shows what DataWorks answers, here the
emulator over tests/test_quiet_logs.py's world. One that has not run yet still says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused
from tests.harness import World
from tests.test_dataworks_emulator import API_VERSIONS, over_dataworks
from tests.test_quiet_logs import DAY, EXPECTED, settled

__all__ = ["settled"]  # the world at 04:00 CST, shared with tests/test_quiet_logs.py


@pytest.fixture(**API_VERSIONS)
def remote(
    request: pytest.FixtureRequest, settled: tuple[World, Path], tmp_path: Path
) -> Iterator[tuple[DataWorksBackend, World]]:
    w, _ = settled
    with over_dataworks(w, request.param, tmp_path, "Asia/Shanghai") as backend:
        yield backend, w


def test_a_success_with_no_run_shows_the_log_dataworks_gives(
    remote: tuple[DataWorksBackend, World],
) -> None:
    backend, w = remote
    for node in ("hub", "dws_sales_weekly"):
        item = w.instance(node, DAY)
        assert item.status is Status.SUCCESS and backend.get_instance(item.id).run_number == 0
        expected = w.backend.read_log(item.id).text
        page = backend.read_log(item.id)
        assert page.text == expected and page.text.startswith(EXPECTED[node][0])
        assert (page.attempt, page.at_end) == (0, True)
        assert [p.text for p in backend.follow_log(item.id)] == [expected]  # and it ends
    weekly = w.instance("dws_sales_weekly", DAY)
    with pytest.raises(ActionRefused, match="has not run yet"):
        backend.read_log(weekly.id, attempt=1)  # no run to name


def test_one_that_has_not_run_or_ran_keeps_its_answer(
    remote: tuple[DataWorksBackend, World],
) -> None:
    backend, w = remote
    waiting = w.instance("later", DAY)
    assert waiting.status is Status.WAIT_TIME
    with pytest.raises(ActionRefused, match="has not run yet"):
        backend.read_log(waiting.id)
    ran = w.instance("extract", DAY)
    page = backend.read_log(ran.id)
    assert page.attempt == 1 and page.text == w.backend.read_log(ran.id).text
    assert "rows" in page.text
