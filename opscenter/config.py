"""The console's config file: defaults for the options an operator would otherwise retype.

``$OPSCENTER_CONFIG``, else ``$XDG_CONFIG_HOME/opscenter/config.yaml`` (``~/.config``);
``--config PATH`` names another. Options given on the command line win over the file.
It is read with the workspace loader's located reader: every mistake at once, each naming
the file, line, key and a hint, a key given twice refused, and never a value echoed that
might be a secret: access keys belong in the environment or an Alibaba Cloud CLI profile.

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from opscenter.errors import UsageError
from opscenter.project.problems import did_you_mean
from opscenter.project.reader import MB, Field, FileRefused, Report, compose, read_text_file

API_VERSIONS = ("2024-05-18", "2020-05-18")
BACKENDS = ("local", "dataworks")
# A config file holds a few options per workspace: a megabyte is thousands of workspaces.
MAX_CONFIG = 1 * MB
SECRET_WORDS = ("secret", "access_key", "token", "password")
_CREDENTIALS = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or name a profile "
    "of ~/.aliyun/config.json with `profile`"
)


def config_path(environ: Mapping[str, str]) -> Path:
    if environ.get("OPSCENTER_CONFIG"):
        return Path(environ["OPSCENTER_CONFIG"]).expanduser()
    home = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
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
    return str(value)


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
PER_WORKSPACE = {name: DATAWORKS[name] for name in ("api_version", "timezone")}


def _scalar(node: yaml.Node) -> Any:
    """A scalar as YAML types it (true, 12, text): the checks below judge that value."""
    return yaml.safe_load(yaml.serialize(node))


def _checked(field: Field, spec: _Key) -> tuple[bool, Any]:
    """(whether the value is good, the value); a bad one is reported at the value."""
    if not isinstance(field.node, yaml.ScalarNode):
        field.problem("must be a single value", spec.hint)
        return False, None
    try:
        return True, spec.check(_scalar(field.node))
    except ValueError as problem:
        field.problem(f"must be {problem}", spec.hint)
        return False, None


def _section(
    field: Field, known: dict[str, _Key], sections: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Field]]:
    """(option -> value, nested section -> its field) of one mapping: a credential or an
    unknown key is reported at the key, a wrong value at the value, and reading goes on."""
    found: dict[str, Any] = {}
    nested: dict[str, Field] = {}
    for key, value in field.entries():
        name = str(key.node.value)
        if any(word in name.lower() for word in SECRET_WORDS):
            key.problem("credentials are not read from this file", _CREDENTIALS)
        elif name in sections:
            nested[name] = value
        elif name not in known:
            key.problem("unknown key", did_you_mean(name, [*known, *sections]))
        else:
            good, checked = _checked(value, known[name])
            if good:
                found[known[name].option] = checked
    return found, nested


def _workspaces(field: Field) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for key, value in field.entries():
        try:
            workspace_id = _workspace_id(_scalar(key.node))
        except ValueError:
            key.problem("must be a workspace id (a whole number)")
            continue
        found[workspace_id], _ = _section(value, PER_WORKSPACE)
    return found


def load_config(path: Path) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """(console option -> value, workspace id -> its own api_version / timezone); every
    problem in the file is reported together, one a line."""
    try:
        text = read_text_file(path, MAX_CONFIG)
    except FileRefused as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the config file as UTF-8"
        ) from None
    report = Report(str(path))
    root = compose(text, report)
    options: dict[str, Any] = {}
    per_workspace: dict[int, dict[str, Any]] = {}
    if root is not None:
        options, sections = _section(Field(root, "", report), TOP, ("dataworks",))
        if "dataworks" in sections:
            remote, inner = _section(sections["dataworks"], DATAWORKS, ("workspaces",))
            options |= remote
            if "workspaces" in inner:
                per_workspace = _workspaces(inner["workspaces"])
    if report.problems:
        found = sorted(report.problems, key=lambda p: (p.line, p.column))
        raise UsageError("\n".join(map(str, found)))
    return options, per_workspace


def from_file(
    given: Mapping[str, Any], named: str | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The options the command line (``given``) left out, from the config file if there is
    one; a workspace's own entry wins over the file's defaults. A file named with --config
    or $OPSCENTER_CONFIG must exist; the default one may be absent."""
    path = Path(named).expanduser() if named else config_path(environ)
    if not path.exists():
        if named or environ.get("OPSCENTER_CONFIG"):
            raise UsageError(f"no config file {path}")
        return {}
    options, per_workspace = load_config(path)
    chosen = given["workspace_id"] if "workspace_id" in given else options.get("workspace_id")
    if chosen is not None:
        options |= per_workspace.get(chosen, {})
    return {option: value for option, value in options.items() if option not in given}
