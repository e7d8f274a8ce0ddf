"""The console's config file: defaults for the options an operator would otherwise retype.

``$OPSCENTER_CONFIG``, else ``$XDG_CONFIG_HOME/opscenter/config.yaml`` (``~/.config``);
``--config PATH`` names another. Options given on the command line win over the file.
A mistake names the file, line and key with a hint, and never echoes a value that might
be a secret: access keys belong in the environment or an Alibaba Cloud CLI profile.

    backend: dataworks            # local (default) | dataworks
    theme: ansi-dark
    readonly: true
    dataworks:
      region: cn-shanghai
      workspace_id: 12345
      endpoint: https://dataworks.cn-shanghai.aliyuncs.com   # optional
      profile: default            # a profile of ~/.aliyun/config.json
      api_version: 2024-05-18     # 2020-05-18 for workspaces on the old DataStudio
      timezone: Asia/Shanghai
      workspaces:                 # per workspace id, over the values above
        678: {api_version: 2020-05-18, timezone: Asia/Singapore}
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from opscenter.verbs import UsageError
from opscenter.yamlsyntax import yaml_syntax

API_VERSIONS = ("2024-05-18", "2020-05-18")
BACKENDS = ("local", "dataworks")
SECRET_WORDS = ("secret", "access_key", "token", "password")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("OPSCENTER_CONFIG"):
        return Path(env["OPSCENTER_CONFIG"]).expanduser()
    home = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return home / "opscenter" / "config.yaml"


@dataclass(frozen=True)
class _Key:
    """One known key: how its value is checked and which console option it fills."""

    option: str
    check: Callable[[Any], Any]
    hint: str


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty text")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _workspace_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("a positive whole number")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if str(value) not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return str(value)

    return check


def _zone(value: Any) -> str:
    try:
        ZoneInfo(_text(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Asia/Shanghai") from None
    return value


TOP = {
    "backend": _Key("backend", _one_of(BACKENDS), "local or dataworks"),
    "theme": _Key("theme", _text, "a theme name, e.g. ansi-dark"),
    "readonly": _Key("readonly", _boolean, "true removes every action"),
}
DATAWORKS = {
    "region": _Key("region", _text, "e.g. cn-shanghai"),
    "workspace_id": _Key("workspace_id", _workspace_id, "the DataWorks workspace id"),
    "endpoint": _Key("endpoint", _text, "e.g. https://dataworks.cn-shanghai.aliyuncs.com"),
    "profile": _Key("profile", _text, "a profile of ~/.aliyun/config.json"),
    "api_version": _Key("api_version", _one_of(API_VERSIONS), "2024-05-18 or 2020-05-18"),
    "timezone": _Key("timezone", _zone, "e.g. Asia/Shanghai"),
}
PER_WORKSPACE = ("api_version", "timezone")


class _Reader:
    """Values with the line each came from, so a mistake can be located."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, key: str, problem: str) -> UsageError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return UsageError(f"{self.path}{line}: {key}: {problem}")

    def mapping(self, node: yaml.Node, key: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping of keys to values")
        return node.value  # type: ignore[return-value]

    def value(self, node: yaml.Node, key: str, spec: _Key) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, key, f"must be a single value ({spec.hint})")
        try:
            return spec.check(yaml.safe_load(yaml.serialize(node)))
        except ValueError as problem:
            raise self.fail(node, key, f"must be {problem} ({spec.hint})") from None

    def section(self, node: yaml.Node, prefix: str, known: dict[str, _Key]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key_node, value_node in self.mapping(node, prefix or "config"):
            key = f"{prefix}{key_node.value}"
            if any(word in str(key_node.value).lower() for word in SECRET_WORDS):
                raise self.fail(
                    key_node,
                    key,
                    "credentials are not read from this file: set ALIBABA_CLOUD_ACCESS_KEY_ID "
                    "and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or name a profile of "
                    "~/.aliyun/config.json with `profile`",
                )
            if key_node.value not in known:
                raise self.fail(
                    key_node, key, f"unknown key; known here: {', '.join(sorted(known))}"
                )
            found[known[key_node.value].option] = self.value(value_node, key, known[key_node.value])
        return found


def load_config(path: Path) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """(console option -> value, workspace id -> its own api_version / timezone)."""
    reader = _Reader(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the config file as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        syntax = yaml_syntax(exc, text)
        raise UsageError(f"{path}:{syntax.line}:{syntax.column}: {syntax.explained}") from None
    if root is None:
        return {}, {}
    options: dict[str, Any] = {}
    per_workspace: dict[int, dict[str, Any]] = {}
    for key_node, value_node in reader.mapping(root, "config"):
        if key_node.value != "dataworks":
            options |= reader.section(_single(key_node, value_node), "", TOP)
            continue
        pairs = reader.mapping(value_node, "dataworks")
        plain = [(k, v) for k, v in pairs if k.value != "workspaces"]
        options |= reader.section(yaml.MappingNode(value_node.tag, plain), "dataworks.", DATAWORKS)
        for key, node in pairs:
            if key.value == "workspaces":
                per_workspace = _workspaces(reader, node)
    return options, per_workspace


def _single(key: yaml.Node, value: yaml.Node) -> yaml.MappingNode:
    return yaml.MappingNode("tag:yaml.org,2002:map", [(key, value)])


def _workspaces(reader: _Reader, node: yaml.Node) -> dict[int, dict[str, Any]]:
    known = {name: DATAWORKS[name] for name in PER_WORKSPACE}
    found: dict[int, dict[str, Any]] = {}
    for key_node, value_node in reader.mapping(node, "dataworks.workspaces"):
        key = f"dataworks.workspaces.{key_node.value}"
        try:
            workspace_id = _workspace_id(yaml.safe_load(yaml.serialize(key_node)))
        except ValueError:
            raise reader.fail(key_node, key, "must be a workspace id (a whole number)") from None
        found[workspace_id] = reader.section(value_node, f"{key}.", known)
    return found


def apply_config(args: argparse.Namespace) -> None:
    """Fill the console options the command line left out from the config file, if any;
    a workspace's own entry wins over the file's defaults. A file named with --config or
    $OPSCENTER_CONFIG must exist; the default one may be absent.
    """
    named = getattr(args, "config", None)
    path = Path(named).expanduser() if named else config_path()
    if not path.exists():
        if named or os.environ.get("OPSCENTER_CONFIG"):
            raise UsageError(f"no config file {path}")
        return
    given = set(vars(args))
    options, per_workspace = load_config(path)
    chosen = getattr(args, "workspace_id", options.get("workspace_id"))
    options |= per_workspace.get(chosen, {})
    for option, value in options.items():
        if option not in given:
            setattr(args, option, value)
