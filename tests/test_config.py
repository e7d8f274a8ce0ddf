"""The console's config file: defaults an operator does not retype, mistakes located."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

import pytest

from opscenter.config import config_path
from opscenter.errors import UsageError
from opscenter.options import Options, gather
from tests import test_dataworks_emulator as emulated

scene = emulated.scene  # a world served by the emulator on 127.0.0.1
server = emulated.server

CONFIG = """
    backend: dataworks
    theme: ansi-dark
    dataworks:
      region: cn-shanghai
      workspace_id: 12345
      profile: ops
      api_version: 2024-05-18
      workspaces:
        678: {api_version: 2020-05-18, timezone: Asia/Singapore}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def applied(path: Path, **given: object) -> Options:
    """The Options of a command line that gave ``given`` and ``--config PATH``."""
    return gather(argparse.Namespace(config=str(path), **given), os.environ)


def test_the_file_fills_what_the_command_line_left_out(tmp_path: Path) -> None:
    args = applied(write(tmp_path, CONFIG), theme="high-contrast")
    assert args.backend == "dataworks" and args.region == "cn-shanghai"
    assert args.workspace_id == 12345 and args.profile == "ops"
    assert args.api_version == "2024-05-18"
    assert args.theme == "high-contrast"  # the command line wins


def test_a_workspace_entry_wins_over_the_file_defaults(tmp_path: Path) -> None:
    args = applied(write(tmp_path, CONFIG), workspace_id=678)
    assert (args.api_version, args.timezone) == ("2020-05-18", "Asia/Singapore")
    assert args.region == "cn-shanghai"
    told = applied(write(tmp_path, CONFIG), workspace_id=678, api_version="2024-05-18")
    assert told.api_version == "2024-05-18"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("backend: remote\n", r"config.yaml:1:10: backend: must be one of local, dataworks"),
        ("dataworks:\n  region: x\n  workspace_id: abc\n", r":3:17: dataworks.workspace_id: must"),
        ("dataworks:\n  api_version: 2019\n", r":2:16: dataworks.api_version: must be one of"),
        ("dataworks:\n  timezone: Mars/Base\n", r":2:13: dataworks.timezone: must be an IANA"),
        ("readonly: maybe\n", r":1:11: readonly: must be true or false"),
        (
            "colour: red\n",
            r":1:1: colour: unknown key \(hint: expected one of: backend, dataworks,",
        ),
        ("dataworks:\n  workspaces:\n    abc: {}\n", r":3:5: dataworks.workspaces.abc: must be a"),
        (
            "dataworks:\n  workspaces:\n    7: {region: x}\n",
            r":3:9: dataworks.workspaces.7.region: unknown key \(hint: expected one of: api_",
        ),
        ("dataworks: [1, 2]\n", r":1:12: dataworks: expected a mapping"),
        ("backend: [local\n", r"config.yaml:\d+:\d+: not valid YAML"),
    ],
)
def test_mistakes_name_file_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(UsageError, match=where):
        applied(write(tmp_path, text))


def test_credentials_are_refused_without_echoing_them(tmp_path: Path) -> None:
    path = write(tmp_path, "dataworks:\n  access_key_secret: s3cr3t-VALUE\n")
    with pytest.raises(UsageError) as refused:
        applied(path)
    message = str(refused.value)
    assert ":2:3: dataworks.access_key_secret: credentials are not read from this file" in message
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in message and "s3cr3t-VALUE" not in message


def test_the_default_file_may_be_absent_but_a_named_one_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSCENTER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path(os.environ) == tmp_path / "opscenter" / "config.yaml"
    assert gather(argparse.Namespace(), os.environ) == Options()
    with pytest.raises(UsageError, match="no config file"):
        applied(tmp_path / "missing.yaml")
    monkeypatch.setenv("OPSCENTER_CONFIG", str(tmp_path / "elsewhere.yaml"))
    with pytest.raises(UsageError, match="no config file .*elsewhere.yaml"):
        gather(argparse.Namespace(), os.environ)


def test_an_empty_file_changes_nothing(tmp_path: Path) -> None:
    assert applied(write(tmp_path, "# nothing yet\n")) == Options()


def test_every_mistake_in_the_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "backend: remote\ndataworks:\n  region: x\n  workspace_id: abc\n")
    with pytest.raises(UsageError) as refused:
        applied(path)
    assert str(refused.value).splitlines() == [
        f"{path}:1:10: backend: must be one of local, dataworks (hint: local or dataworks)",
        f"{path}:4:17: dataworks.workspace_id: must be a positive whole number "
        "(hint: the DataWorks workspace id)",
    ]


def test_a_key_given_twice_is_refused_at_its_second_line(tmp_path: Path) -> None:
    """Not the last one silently winning: which was meant is the operator's to say."""
    path = write(tmp_path, "theme: ansi-dark\ndataworks:\n  region: a\n  region: b\n")
    with pytest.raises(UsageError) as refused:
        applied(path)
    assert str(refused.value) == f"{path}:4:3: dataworks.region: duplicate key 'region'"


def test_the_config_file_opens_a_legacy_workspace_over_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server, scene
) -> None:
    """backend, endpoint and the workspace's api_version from the file; the name from
    GetProject; a wrong secret stops before the console opens, naming the error."""
    from opscenter.backends.dataworks.legacy import LegacyBackend
    from opscenter.console import open_dataworks

    path = write(
        tmp_path,
        f"""
        backend: dataworks
        dataworks:
          endpoint: {server.url}
          workspace_id: {scene.workspace_id}
          timezone: UTC
          workspaces:
            {scene.workspace_id}: {{api_version: 2020-05-18}}
        """,
    )
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulated.KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulated.SECRET)
    args = applied(path)
    backend = open_dataworks(args, scene.clock)
    assert isinstance(backend, LegacyBackend)
    assert (backend.workspace().name, backend.workspace().backend) == ("ws", "dataworks")
    assert [n.name for n in backend.list_nodes()] == [n.name for n in scene.backend.list_nodes()]
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
    with pytest.raises(UsageError, match="cannot open DataWorks workspace .*SignatureDoesNotMatch"):
        open_dataworks(applied(path), scene.clock)


def test_a_config_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("theme: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"config.yaml: not UTF-8 text \(byte 10\); save"):
        applied(path)
