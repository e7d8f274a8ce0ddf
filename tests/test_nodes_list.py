"""The node list as the Nodes screen and `opscenter nodes` read it: every filter chip
narrows it in the store, names are searched case-insensitively with wildcards taken
literally, and undeployed nodes appear only when asked for."""

from __future__ import annotations

from opscenter.domain.records import NodeFilter
from tests.harness import MakeWorld

WORKSPACE = """
resource_groups:
  - {name: etl, slots: 2}
nodes:
  - {name: Orders_Raw, type: shell, code: "true", owner: alice, priority: 8,
     resource_group: etl, trigger: {cron: "00 10 00 * * ?"}}
  - {name: orders_hourly, type: python, code: "pass", owner: bob, priority: 3,
     trigger: {cron: "00 05 00-23/1 * * ?"}}
  - {name: oil_Price_daily, type: sql, code: "SELECT 1", owner: carol, priority: 3,
     recurrence: Skip, trigger: {cron: "00 30 01 * * ?"}, depends: [Orders_Raw]}
  - {name: report, type: virtual, owner: alice, priority: 1,
     trigger: {cron: "00 00 02 * * ?"}, depends: [Orders_Raw]}
"""


def names(w, **filters) -> list[str]:  # noqa: ANN001, ANN003
    return [n.name for n in w.backend.list_nodes(NodeFilter(**filters))]


def test_each_filter_narrows_the_list_and_search_ignores_case(world: MakeWorld) -> None:
    w = world(WORKSPACE)
    everything = ["Orders_Raw", "oil_Price_daily", "orders_hourly", "report", "ws_root"]
    assert names(w) == everything  # by name as the store sorts them, the workspace root too
    assert names(w, text="ORDERS") == ["Orders_Raw", "orders_hourly"]
    assert names(w, text="price_D") == ["oil_Price_daily"]
    assert names(w, text="%") == names(w, text="_raw%") == []  # wildcards are literal
    assert names(w, owner="alice") == ["Orders_Raw", "report"]
    assert names(w, type="python") == ["orders_hourly"]
    assert names(w, cycle_type="hour") == ["orders_hourly"]
    assert names(w, priority=3) == ["oil_Price_daily", "orders_hourly"]
    assert names(w, priority=2**70) == []  # beyond any stored number: nothing, no error
    assert names(w, resource_group="etl") == ["Orders_Raw"]
    assert names(w, recurrence="Skip") == ["oil_Price_daily"]
    assert names(w, owner="alice", text="rep") == ["report"]
    raw = w.backend.list_nodes(NodeFilter(text="raw"))[0]
    assert raw.downstreams == ("oil_Price_daily", "report")  # from every node, not the page
    assert raw.schedule == w.backend.get_node("Orders_Raw").schedule


def test_undeployed_nodes_are_listed_only_when_asked(world: MakeWorld) -> None:
    w = world(WORKSPACE)
    w.backend.undeploy("report")
    assert "report" not in names(w)
    assert names(w, include_undeployed=True, owner="alice") == ["Orders_Raw", "report"]
    assert w.backend.list_nodes(NodeFilter(text="orders_raw"))[0].downstreams == (
        "oil_Price_daily",
    )
