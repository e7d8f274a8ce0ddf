"""The Nodes screen over a workspace too long to read whole: it shows a window of pages.

A workspace of 2,400 virtual nodes (and one shell node owned by zara, far down the list by
name) is deployed once for the module; the console's backend counts what it is asked, so
a test can say the screen read pages of nodes and never the whole list.
"""

from __future__ import annotations

from typing import Any

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.records import NodeFilter, NodeInfo, Page
from opscenter.store.db import open_store
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.nodes import NodesScreen
from tests.conftest import deploy_folder, utc
from tests.tui.helpers import press, screen_text, settle, until

COUNT = 2400
FAR = "w2350"  # the shell node, owned by zara


class CountingBackend(LocalBackend):
    """The local backend, noting how many nodes each read of the node list answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.whole_lists: list[int] = []
        self.pages: list[int] = []

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]:
        found = super().list_nodes(flt)
        self.whole_lists.append(len(found))
        return found

    def node_page(self, flt: NodeFilter) -> Page[NodeInfo, str]:
        page = super().node_page(flt)
        self.pages.append(len(page.items))
        return page


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("big-workspace")
    lines = ["workspace: {name: big, timezone: UTC}", "nodes:"]
    for i in range(COUNT):
        name = f"w{i:04d}"
        if name == FAR:
            lines.append(f"  - {{name: {name}, type: shell, owner: zara, code: 'true',")
            lines.append('     trigger: {cron: "00 10 01 * * ?"}}')
        else:
            cron = '{cron: "00 00 01 * * ?"}'
            lines.append(f"  - {{name: {name}, type: virtual, trigger: {cron}}}")
    (folder / "workspace.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite:///{folder / 'state.db'}"
    db = open_store(url)
    deploy_folder(db, folder)
    db.dispose()
    return url


@pytest.fixture
def big_backend(big_store: str) -> CountingBackend:
    db = open_store(big_store)
    yield CountingBackend(db, "big", ManualClock(utc(2026, 11, 20, 1, 30)), user="alice")
    db.dispose()


def names(app: OpsApp) -> list[str]:
    return [row.name for row in app.screen.table.rows]  # type: ignore[attr-defined]


async def test_the_list_holds_a_window_of_pages_never_every_node(big_backend) -> None:
    app = OpsApp(big_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, NodesScreen)
        table = app.screen.table
        assert table.total == COUNT + 1  # and the workspace root, big_root
        assert f"1/{COUNT + 1:,}" in screen_text(pilot)
        assert len(table.rows) < COUNT / 4
        for _ in range(12):
            await press(pilot, "pagedown")
        await settle(pilot)
        assert table.position > 200  # past the first page: the next one was read
        await press(pilot, "G")
        await until(pilot, lambda: table.position == table.total, "the last node")
        assert "w2399" in screen_text(pilot)
        assert len(table.rows) <= table.max_rows
        await press(pilot, "e")  # a chip's choices are read once: distinct values, not nodes
        await settle(pilot)
    assert big_backend.whole_lists == []
    assert big_backend.pages and max(big_backend.pages) <= table.max_rows


async def test_search_and_chips_find_a_node_far_down_the_list(big_backend) -> None:
    app = OpsApp(big_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "slash", *FAR, "enter")
        await settle(pilot)
        assert names(app) == [FAR]
        assert "1/1" in screen_text(pilot)
        await press(pilot, "c", "t")  # type: shell, the first type in order
        await settle(pilot)
        assert "type shell" in screen_text(pilot)
        assert names(app) == [FAR]
        await press(pilot, "c", "o", *"zara", "enter")
        await settle(pilot)
        assert "owner zara" in screen_text(pilot)
        assert names(app) == [FAR]
    assert big_backend.whole_lists == []


def test_pages_by_name_follow_one_another_and_a_window_read_again_starts_at_its_row(
    big_backend,
) -> None:
    first = big_backend.node_page(NodeFilter(limit=100))
    assert first.total == COUNT + 1
    assert [n.name for n in first.items] == sorted(n.name for n in first.items)
    second = big_backend.node_page(NodeFilter(limit=100, after=first.next_after))
    assert second.items[0].name > first.items[-1].name
    again = big_backend.node_page(NodeFilter(limit=3, after=second.items[0].name, including=True))
    assert [n.name for n in again.items] == [n.name for n in second.items[:3]]
    back = big_backend.node_page(NodeFilter(limit=2, after=second.items[0].name, descending=True))
    assert [n.name for n in back.items] == [n.name for n in reversed(first.items[-2:])]
    # a page's nodes are the nodes the whole list has, downstreams and all
    whole = {n.name: n for n in big_backend.list_nodes(NodeFilter())}
    assert all(whole[n.name] == n for n in [*first.items, *second.items])
    frozen = big_backend.node_page(NodeFilter(frozen=True))
    assert frozen.items == [] and frozen.total == 0
    big_backend.freeze_node(FAR)
    assert [n.name for n in big_backend.node_page(NodeFilter(frozen=True)).items] == [FAR]


def test_a_pages_downstreams_are_the_nodes_and_follow_an_undeploy(demo_backend) -> None:
    whole = {n.name: n for n in demo_backend.list_nodes()}
    leaf = next(n for n in whole.values() if n.upstreams and not n.downstreams)
    parent = leaf.upstreams[0]

    def on_its_page() -> NodeInfo:
        page = demo_backend.node_page(NodeFilter(after=parent, including=True, limit=3))
        assert page.items[0].name == parent
        return page.items[0]

    for _ in range(3):  # the first read, the one that keeps the map, one answered from it
        assert on_its_page() == whole[parent]
    demo_backend.undeploy(leaf.name)
    assert leaf.name in whole[parent].downstreams
    assert leaf.name not in on_its_page().downstreams
    assert on_its_page().downstreams == demo_backend.get_node(parent).downstreams
