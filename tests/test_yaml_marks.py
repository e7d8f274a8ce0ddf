"""Workspace YAML is parsed by libyaml for speed, but read exactly as PyYAML reads it: the
same tree, the same line, column and index on every node (every located problem depends on
them), and the same refusals in PyYAML's words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from opscenter.yamlsyntax import compose, yaml_syntax

DEMO = Path(__file__).parents[1] / "fixtures" / "demo" / "workspace.yaml"


def walk(node: yaml.Node) -> Iterator[tuple]:
    start, end = node.start_mark, node.end_mark
    value = node.value if isinstance(node, yaml.ScalarNode) else None
    yield type(node).__name__, node.tag, start.line, start.column, start.index, end.index, value
    if isinstance(node, yaml.MappingNode):
        for key, item in node.value:
            yield from walk(key)
            yield from walk(item)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from walk(item)


@pytest.mark.parametrize(
    "text",
    [
        DEMO.read_text(encoding="utf-8"),
        "workspace: {name: 中文, description: 'ü ${x} 😀'}\nnodes:\n  - a\n  - |\n    b\n",
        "\ufeffworkspace: {name: ws}\n",  # a byte order mark, which libyaml leaves out
        'a: "x\\ty"\nb: >-\n  z\n\n  w\n',
    ],
    ids=["demo", "unicode", "bom", "escapes"],
)
def test_the_tree_and_its_marks_are_pyyamls(text):
    assert list(walk(compose(text))) == list(walk(yaml.compose(text, Loader=yaml.SafeLoader)))


@pytest.mark.parametrize(
    "text",
    ["a: x  \t\n", "a: [1, 2\n", "a: b: c\n", "a:\n  - b\n - c\n", "a: b\x00\n"],
    ids=["trailing tab", "unclosed", "mapping in value", "indent", "nul"],
)
def test_what_pyyaml_refuses_is_refused_in_its_words_and_place(text):
    with pytest.raises(yaml.YAMLError) as ours:
        compose(text)
    with pytest.raises(yaml.YAMLError) as pyyaml:
        yaml.compose(text, Loader=yaml.SafeLoader)
    assert yaml_syntax(ours.value, text) == yaml_syntax(pyyaml.value, text)
