"""An instance's upstream and downstream instances as a tree, one level at a time.

The screen reads the levels (the first of each side, and those opened) and hands them in;
the tree updates its nodes in place, so labels change and the cursor stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from opscenter.domain.diagnosis import removed_by
from opscenter.domain.records import InstanceInfo, Relative, Removal
from opscenter.tui import format as fmt

MAX_CHILDREN = 100  # relatives listed under one tree node
MAX_REFRESHED = 30  # expanded tree nodes re-read on each refresh
DIRECTIONS = (("up", "Upstream"), ("down", "Downstream"))

Levels = dict[tuple[str, int], list[Relative]]  # (direction, instance id) -> one level


@dataclass
class Item:
    """A tree node's data: a direction section, or an instance on that side."""

    direction: str
    info: InstanceInfo | None = None
    cross_cycle: bool = False


class RelativesTree(Tree[Item]):
    """Upstream and downstream instances, one level at a time (space or l opens a level)."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "down", show=False),
        Binding("up,k", "cursor_up", "up", show=False),
        Binding("home,g", "scroll_home", "first", show=False),
        Binding("end,G", "scroll_end", "last", show=False),
        Binding("right,l", "expand", "open a level", show=False),
        Binding("left,h", "collapse", "close a level", show=False),
        Binding("enter", "select_cursor", "open instance", show=False),
    ]

    def __init__(self, zone: tzinfo, *, id: str) -> None:
        super().__init__(Text("relatives"), id=id)
        self.zone = zone

    def on_mount(self) -> None:
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 2
        for direction, title in DIRECTIONS:
            self.root.add(Text(title, style="bold"), Item(direction), expand=True)
        self.cursor_line = 0  # on the first section, as a tree shown from its root starts

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def expanded(self) -> list[tuple[str, int]]:
        """The levels opened below the first ones: read again on each refresh."""
        found: list[tuple[str, int]] = []
        stack = list(self.root.children)
        while stack and len(found) < MAX_REFRESHED:
            node = stack.pop(0)
            if not node.is_expanded:
                continue
            if node.data is not None and node.data.info is not None:
                found.append((node.data.direction, node.data.info.id))
            stack.extend(node.children)
        return found

    def show(self, instance_id: int, found: Levels) -> None:
        for section in self.root.children:
            assert section.data is not None
            direction = section.data.direction
            mine = found.get((direction, instance_id), [])
            title = dict(DIRECTIONS)[direction]
            section.set_label(Text(f"{title} ({len(mine)})", style="bold"))
            self._fill(section, mine, found)

    def opened(self, node: TreeNode[Item], relatives: list[Relative]) -> None:
        """A level opened by the operator, read."""
        assert node.data is not None and node.data.info is not None
        self._fill(node, relatives, {})
        if not relatives:
            node.allow_expand = False  # its marker goes: nothing further that way

    def _fill(self, parent: TreeNode[Item], relatives: list[Relative], found: Levels) -> None:
        """Update ``parent``'s children in place (labels change, the cursor stays)."""
        assert parent.data is not None
        direction = parent.data.direction
        existing = {
            child.data.info.id: child
            for child in parent.children
            if child.data is not None and child.data.info is not None
        }
        keep = set()
        for relative in relatives[:MAX_CHILDREN]:
            info = relative.instance
            keep.add(info.id)
            child = existing.get(info.id)
            label = self._label(info, relative.cross_cycle, relative.removed)
            if child is None:
                child = parent.add(label, Item(direction, info, relative.cross_cycle))
            else:
                child.data = Item(direction, info, relative.cross_cycle)
                child.set_label(label)
            below = found.get((direction, info.id))
            if below is not None:
                self._fill(child, below, found)
        for child in list(parent.children):
            gone = child.data is None or child.data.info is None or child.data.info.id not in keep
            if gone:
                child.remove()
        hidden = len(relatives) - MAX_CHILDREN
        if hidden > 0:
            parent.add_leaf(Text(f"… {hidden} more", style="italic"), Item(direction))

    def _label(self, info: InstanceInfo, cross_cycle: bool, removed: Removal | None) -> Text:
        text = Text(f"{fmt.glyph(info.status, info.dry_run)} {info.node}")
        if cross_cycle:
            text.append(" ↺" if fmt.UNICODE else " ~")
        if removed is not None:  # a dashed edge, said in words too: readable without colour
            dash = "┄" if fmt.UNICODE else "--"
            text.append(f" {dash} {removed_by(removed, self.zone)}", style="dim italic")
        if info.finished_at is not None:
            text.append(f" {fmt.local(info.finished_at, self.zone)}", style="dim")
        return text
