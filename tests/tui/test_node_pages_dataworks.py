"""Pages of nodes over the DataWorks API (the emulator on 127.0.0.1, both API versions) are
the pages the local backend gives of the same world: same names in the same order, same
counts, the same filters' choices."""

from __future__ import annotations

from dataclasses import replace

from opscenter.backends.base import Backend
from opscenter.domain.records import NodeFilter
from tests.tui.test_console_dataworks import remote_demo  # noqa: F401 - a fixture

PAGE = 7


def every_page(backend: Backend, flt: NodeFilter) -> tuple[list[list[str]], int]:
    """The names of each page, first to last, and the total the first page said."""
    pages: list[list[str]] = []
    page = backend.node_page(replace(flt, limit=PAGE))
    total = page.total
    pages.append([n.name for n in page.items])
    while page.next_after is not None:
        page = backend.node_page(replace(flt, limit=PAGE, after=page.next_after))
        pages.append([n.name for n in page.items])
    return pages, total


def test_node_pages_over_dataworks_are_the_local_ones(remote_demo, demo_backend) -> None:  # noqa: F811
    for flt in (NodeFilter(), NodeFilter(type="sql"), NodeFilter(text="SALES")):
        remote, local = every_page(remote_demo, flt), every_page(demo_backend, flt)
        assert remote == local and local[1] > 0
    names = [n.name for n in demo_backend.list_nodes()]
    backwards = remote_demo.node_page(NodeFilter(after=names[PAGE], descending=True, limit=3))
    assert [n.name for n in backwards.items] == names[PAGE - 3 : PAGE][::-1]
    again = remote_demo.node_page(NodeFilter(after=names[PAGE], including=True, limit=2))
    assert [n.name for n in again.items] == names[PAGE : PAGE + 2]
    remote_choices, local_choices = remote_demo.node_choices(), demo_backend.node_choices()
    assert remote_choices.owners == local_choices.owners
    assert remote_choices.types == local_choices.types
    assert remote_choices.cycle_types == local_choices.cycle_types


def test_node_list_over_dataworks_filters_as_the_local_one(remote_demo, demo_backend) -> None:  # noqa: F811
    """Every filter of the list, the manual and frozen ones too, picks the nodes the local
    backend picks of the same world (run manual (W) lists a workflow's nodes by it)."""
    for flt in (NodeFilter(trigger="Manual"), NodeFilter(frozen=True), NodeFilter(type="sql")):
        remote = [n.name for n in remote_demo.list_nodes(flt)]
        assert remote == [n.name for n in demo_backend.list_nodes(flt)]
    every = remote_demo.list_nodes()
    manual = remote_demo.list_nodes(NodeFilter(trigger="Manual"))
    assert manual and len(manual) < len(every) and all(n.manual for n in manual)


def test_a_window_read_again_over_dataworks_shows_what_changed_since(
    remote_demo,  # noqa: F811
    demo_backend,
) -> None:
    """The list's refresh reads its window again from its first row (``including``), deep in
    the list too: a node frozen in DataWorks since shows frozen there, not as first read."""
    first = remote_demo.node_page(NodeFilter(limit=PAGE))
    second = remote_demo.node_page(NodeFilter(limit=PAGE, after=first.next_after))
    target = second.items[0]
    assert not target.frozen
    demo_backend.freeze_node(target.name)
    again = remote_demo.node_page(NodeFilter(limit=PAGE, after=target.name, including=True))
    assert again.items[0].name == target.name and again.items[0].frozen
