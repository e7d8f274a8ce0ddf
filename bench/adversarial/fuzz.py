"""Section 3: seeded random input to four surfaces, counting tracebacks and 5xx.

- YAML: workspace folders given to ``opscenter validate`` (deep nesting, odd scalars,
  huge names, trailing newlines, binary junk, wrong types, aliases).
- parameters: node parameters and inline expressions (``$[...]``, ``${...}``, built-ins)
  given to ``opscenter validate``, and when valid to ``opscenter summary`` (deploy and
  generate today: the expressions are rendered).
- CLI: random argv over every verb and its options (from opscenter's own parser), with
  odd values, against a deployed store. ``scheduler``, ``emulate`` and the console are left
  out (they serve until stopped), as are the options that choose another store, config or
  the DataWorks backend (a fuzzed endpoint would call out of the machine).
- emulator: ``opscenter emulate`` over real HTTP on 127.0.0.1: random form fields to
  random actions of both API versions, signed (ACS3, with opscenter's signer), unsigned,
  or forged (non-ASCII signatures included).

A failure is a traceback on stderr, an exit code the README does not document, a command
that hangs (30 s), or a 5xx answer. The first failing inputs of each surface are saved to a
folder that is kept (printed at the end) for reproduction.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import random
import re
import socket
import sqlite3
import string
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.adversarial import workspaces
from bench.adversarial.sandbox import Ran, Sandbox, said, wait_for

SEED = 18
KEEP = 5  # failing inputs saved per surface
HANG = 30.0
KEY_ID, SECRET = "LTAIbenchAdversarial", "bench-adversarial-secret"

ODD_SCALARS = [
    "~",
    "null",
    ".nan",
    ".inf",
    "-.inf",
    "0x1F",
    "0o17",
    "1e999",
    "-1",
    "0",
    "yes",
    "no",
    "on",
    "2025-02-30",
    "12:30:00",
    "!!binary aGVsbG8=",
    '"\\u0000"',
    '"\\x00"',
    "''",
    "[]",
    "{}",
    "!!int 'x'",
    "!!python/object/apply:os.system ['true']",
    "99999999999999999999999",
    '"\\ud800"',
    '"é\\u202e"',
    "!!set {a, b}",
    "!!timestamp 2025-01-01",
    "- a",
    "? a",
    '"' + "x" * 5000 + '"',
    "&anchor x",
    "*missing",
    "|\n    block",
    "!!float 'nan'",
]
FIELDS = [
    "name",
    "type",
    "cron",
    "rerun_times",
    "rerun_interval",
    "priority",
    "resource_group",
    "timeout",
    "start_date",
    "end_date",
    "depends",
    "code",
    "parameters",
    "owner",
    "instance_mode",
    "rerun_mode",
    "recurrence",
    "description",
    "cycle_type",
]
TOKENS = ["yyyy", "yy", "mm", "dd", "hh24", "hh12", "hh", "mi", "ss", "YYYY", "MM", "x", "ddd"]
OFFSETS = [
    "",
    "-1",
    "+1",
    "-7",
    "-1/24",
    "-1/24/60",
    "-1-1/24",
    "*2",
    "/0",
    "-1/0",
    "+0",
    "--1",
    "-99999999999",
    "+1e5",
    "-١",
    "-1.5",
    "-1*",
    "-",
    "+-1",
    "*-1",
    "-1/3",
    "/24/60/60/1000",
    "-" + "9" * 60,
    "-1" * 200,
]
BUILTINS = ["$bizdate", "$cyctime", "$gmtdate", "$bizmonth", "$jobid", "$nodeid", "$taskid"]
ODD_VALUES = [
    "",
    "-1",
    "0",
    "1",
    "2",
    "99999999999999999999",
    "1e3",
    "0x10",
    "١٢",
    "NaN",
    "2025-02-30",
    "9999-12-31",
    "0001-01-01",
    "2025-13-01",
    "yesterday",
    "25:00-01:00",
    "00:00-00:00",
    "x" * 10000,
    "../../etc/passwd",
    "%s%n",
    "'; DROP TABLE instances; --",
    "\u202e",
    "é",
    " ",
    "\t",
    "-",
    "--",
    "@",
    "~",
    ",",
    ",,,",
    "src,src",
    "1,2,3",
    "-5",
    "11",
    "3.5",
    "2025-11-01..2025-10-01",
    "--json",
    "\n",
    "h_pull",
    "d0_0",
    "conc",
    "*",
    "?",
    "\\",
]
PLAUSIBLE = [
    "h_pull",
    "d0_0",
    "d1_2",
    "broken",
    "flaky",
    "conc",
    "2025-11-01",
    "2025-10-30",
    "1",
    "3",
    "7",
    "00:00-06:00",
    "h_pull,d0_0",
    "fixing",
    "ignore",
    "recover",
]
LEFT_OUT = {
    "--db",
    "--config",
    "--workspace",
    "--backend",
    "--endpoint",
    "--region",
    "--workspace-id",
    "--profile",
    "--api-version",
    "-h",
    "--help",
    "--version",
}
SERVING = {"scheduler", "emulate"}


class Surface:
    """One surface's count: inputs, failures by kind, and the first failing inputs kept."""

    def __init__(self, name: str, kept: Callable[[], Path]) -> None:
        self.name, self._kept = name, kept
        self.inputs = 0
        self.tracebacks = self.undocumented = self.hangs = self.server_errors = 0
        self.saved: list[str] = []
        self.answers: Counter[str] = Counter()  # exit codes, or HTTP statuses

    def judge(
        self, ran: Ran, documented: set[int], what: str | bytes, name: str = "input.txt"
    ) -> None:
        self.inputs += 1
        self.answers["hung" if ran.code is None else str(ran.code)] += 1
        failed = []
        if ran.code is None:
            self.hangs += 1
            failed.append(f"hung {HANG:g} s")
        elif ran.traceback:
            self.tracebacks += 1
            failed.append("traceback")
        elif ran.code not in documented:
            self.undocumented += 1
            failed.append(f"exit {ran.code}")
        if failed:
            self.keep(what, f"{', '.join(failed)}\n$ {' '.join(ran.argv)}\n{ran.err[-3000:]}", name)

    def keep(self, what: str | bytes, why: str, name: str = "input.txt") -> None:
        """Save a failing input as ``name`` (workspace.yaml: the folder can be validated as
        it is) beside why it failed."""
        if len(self.saved) >= KEEP:
            return
        folder = self._kept() / f"{self.name}-{len(self.saved) + 1}"
        folder.mkdir(parents=True)
        data = what if isinstance(what, bytes) else what.encode("utf-8", errors="replace")
        (folder / name).write_bytes(data)
        (folder / "why.txt").write_text(why, encoding="utf-8", errors="replace")
        self.saved.append(str(folder))

    def failures(self) -> int:
        return self.tracebacks + self.undocumented + self.hangs + self.server_errors

    def line(self) -> str:
        kinds = [
            f"{self.tracebacks} tracebacks",
            f"{self.undocumented} undocumented exits",
            f"{self.hangs} hangs",
        ]
        if self.name == "emulator":
            kinds = [
                f"{self.server_errors} 5xx / no answer",
                f"{self.tracebacks} tracebacks in its log",
            ]
        seen = ", ".join(f"{k}: {v}" for k, v in sorted(self.answers.items()))
        return f"{self.inputs} inputs: " + ", ".join(kinds) + f" (answers {seen})"


# -- YAML --------------------------------------------------------------------------------------


def _valid_yaml(rng: random.Random) -> list[str]:
    return [
        "workspace: {name: fz, timezone: UTC}",
        "resource_groups: [{name: work, slots: 2}]",
        "nodes:",
        "  - name: a",
        "    type: shell",
        "    code: echo ${p}",
        "    parameters: {p: $bizdate}",
        f"    trigger: {{cron: '00 {rng.randint(0, 59):02d} 01 * * ?'}}",
        "  - {name: b, type: virtual, depends: [a], trigger: {cron: '00 00 02 * * ?'}}",
    ]


def yaml_input(rng: random.Random) -> bytes:
    lines = _valid_yaml(rng)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        if kind == 0:  # deep nesting
            depth = rng.choice([50, 200, 449, 500, 1000, 5000])
            opener, closer = rng.choice([("[", "]"), ("{a: ", "}")])
            lines.insert(rng.randrange(len(lines) + 1), f"deep: {opener * depth}1{closer * depth}")
        elif kind == 1:  # an odd scalar for a field of node a
            lines.append(f"    {rng.choice(FIELDS)}: {rng.choice(ODD_SCALARS)}")
        elif kind == 2:  # huge, newline-ended, unicode or control-character names
            name = rng.choice(
                [
                    "x" * rng.choice([129, 257, 5000, 200000]),
                    "evil\\n",
                    "p\\n",
                    "é€",
                    "a b",
                    "\\t",
                    "a\\u0000",
                    "-",
                    "1",
                    "../x",
                    "a" * 64 + "\\n",
                ]
            )
            target = rng.choice(
                [
                    "  - {name: \"%s\", type: virtual, trigger: {cron: '00 00 03 * * ?'}}",
                    '    parameters: {"%s": x}',
                    'workspace: {name: "%s", timezone: UTC}',
                    'resource_groups: [{name: "%s", slots: 1}]',
                ]
            )
            lines.append(target % name)
        elif kind == 3:  # binary junk, a BOM, invalid UTF-8
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            text = "\n".join(lines).encode()
            at = rng.randrange(len(text) + 1)
            return rng.choice([b"\xef\xbb\xbf" + text, text[:at] + junk + text[at:], junk])
        elif kind == 4:  # wrong types
            at = rng.randrange(len(lines)) if lines else 0
            lines[at : at + 1] = rng.choices(
                [
                    "nodes: {a: 1}",
                    "nodes: 5",
                    "workspace: [1, 2]",
                    "resource_groups: x",
                    "  - 7",
                    "    trigger: [1]",
                    "    depends: {a: b}",
                    "    parameters: [x]",
                    "alerts: 3",
                    "baselines: [{}]",
                    "    trigger: {cron: 5}",
                ]
            )
        elif kind == 5:  # trailing and odd whitespace, tabs, duplicate keys, empty file
            lines = rng.choice(
                [
                    lines + ["", "", "   "],
                    [line.replace("  ", "\t") for line in lines],
                    lines + ["workspace: {name: again, timezone: UTC}"],
                    [],
                    ["---", "...", "---"],
                    [line + "\r" for line in lines],
                ]
            )
        else:  # aliases, modest in size (a real billion laughs would only measure this machine)
            lines = [
                "a: &a [x, x, x, x, x]",
                "b: &b [*a, *a, *a, *a, *a]",
                "c: &c [*b, *b, *b]",
                *lines,
                "    description: *c",
            ]
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


# -- scheduling parameters ----------------------------------------------------------------------


def expression(rng: random.Random, depth: int = 0) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(BUILTINS) + rng.choice(["", "x", "_1", "}", "]"])
    if kind == 1:
        months = rng.choice(["-1", "1", "-99999", "0", "x", "", "-1,-1", "12.5"])
        fmt = rng.choice(["yyyymmdd", "yyyy-mm-dd", "hh24", "", "yyyymmdd-1"])
        return f"$[add_months({fmt},{months})]"
    if kind == 2 and depth < 3:
        return rng.choice(["$[", "${"]) + expression(rng, depth + 1) + rng.choice(["]", "}"])
    opener, closer = rng.choice([("$[", "]"), ("${", "}")])
    fmt = "".join(
        rng.choice(TOKENS) + (rng.choice("-:/ ") if rng.random() < 0.3 else "")
        for _ in range(rng.randint(0, 5))
    )
    body = fmt + rng.choice(OFFSETS)
    if rng.random() < 0.1:
        body = body * rng.randint(2, 500)
    if rng.random() < 0.1:
        closer = ""
    return f"{opener}{body}{closer}"


def parameters_input(rng: random.Random) -> str:
    params = {f"p{n}": expression(rng) for n in range(rng.randint(1, 3))}
    if rng.random() < 0.2:
        params["loop"] = "${loop}"
    inline = expression(rng)
    code = "echo " + " ".join(f"${{{name}}}" for name in params) + f" {inline}"
    node = workspaces.node("a", code, parameters=params)
    return "\n".join(
        [
            "workspace: {name: pz, timezone: UTC}",
            "nodes:",
            f"  - {json.dumps(node)}",
            f"  - {json.dumps(workspaces.node('s', f'SELECT {json.dumps(inline)}', type_='sql'))}",
        ]
    )


# -- CLI ----------------------------------------------------------------------------------------


Grammar = dict[str, tuple[int, list[tuple[str, bool]]]]


def cli_grammar() -> Grammar:
    """Each verb's positionals (how many) and options (name, takes a value), from
    opscenter's own parser."""
    from opscenter.cli import _parser

    verbs: Grammar = {}
    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, sub in action.choices.items():
                if verb in SERVING:
                    continue
                positionals = [a for a in sub._actions if not a.option_strings]
                options = [
                    (option, a.nargs != 0)
                    for a in sub._actions
                    for option in a.option_strings[-1:]
                    if option not in LEFT_OUT
                ]
                verbs[verb] = (len(positionals), options)
    return verbs


def cli_value(rng: random.Random, ids: list[str]) -> str:
    """Half the time a value that could be right (an id, a node, a date), else an odd one."""
    if rng.random() < 0.5:
        return rng.choice(ODD_VALUES)
    return rng.choice([*ids, *PLAUSIBLE])


def cli_input(rng: random.Random, grammar: Grammar, ids: list[str]) -> list[str]:
    verb = rng.choice(sorted(grammar))
    positionals, options = grammar[verb]
    argv = [verb]
    if rng.random() < 0.05:  # a mistyped verb
        argv = [verb[::-1] if rng.random() < 0.5 else verb + rng.choice(string.ascii_lowercase)]
    for _ in range(positionals + (rng.random() < 0.3) * rng.choice([-1, 1, 2])):
        argv.append(cli_value(rng, ids))
    for _ in range(rng.randint(0, min(4, len(options)))):
        option, takes = rng.choice(options)
        argv += [option, cli_value(rng, ids)] if takes else [option]
    if rng.random() < 0.1:
        argv.append(rng.choice(["--nope", "-x", "--json=1", "--from=", "--"]))
    return argv


# -- the emulator -------------------------------------------------------------------------------


def emulator_actions() -> tuple[list[tuple[str, str]], list[str]]:
    """(version, action) of every emulated action, and the field names its code reads."""
    from opscenter.backends.dataworks import emulator as package
    from opscenter.backends.dataworks.emulator import (
        dags2020,
        ops2020,
        ops2024,
        pipelines,
        sla2020,
        workflows2024,
    )
    from opscenter.backends.dataworks.emulator.base import Group

    actions, names = [], set()
    for module in (ops2024, ops2020, dags2020, pipelines, sla2020, workflows2024):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Group) and "ACTIONS" in cls.__dict__:
                actions += [(cls.VERSION, a) for a in cls.ACTIONS]
    for path in Path(package.__file__).parent.glob("*.py"):
        names |= set(re.findall(r'"([A-Z][A-Za-z]{1,40})"', path.read_text()))
    return sorted(set(actions)), sorted(names)


def field_value(rng: random.Random, ids: list[str]) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(ids)
    if kind == 1:
        return rng.choice(ODD_VALUES)
    if kind == 2:
        return json.dumps([int(i) if i.isdigit() else i for i in rng.sample(ids, min(3, len(ids)))])
    if kind == 3:  # nested JSON, now and then very deep
        depth = rng.choice([5, 50, 500, 3000, 100000] if rng.random() < 0.3 else [2, 5, 20])
        return "[" * depth + "1" + "]" * depth
    if kind == 4:
        return json.dumps(
            {rng.choice(["Id", "Name", "Type", "Cron", "Mode"]): rng.choice(ODD_VALUES)}
        )
    if kind == 5:
        return str(rng.choice([-1, 0, 2**31, 2**63, 10**40, -(10**30)]))
    if kind == 6:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randint(1, 40)))
    if kind == 7:
        return rng.choice(["2025-11-01", "2025-11-01 00:00:00", "1700000000000", "20251101", "NaN"])
    return "x" * rng.choice([1, 1000, 100000])


def emulator_request(
    rng: random.Random, url: str, actions: list[tuple[str, str]], names: list[str], ids: list[str]
) -> tuple[str, dict[str, str], bytes]:
    """(target URL, headers, body) of one request, signed, unsigned or forged; header values
    may hold non-ASCII characters (sent as UTF-8)."""
    from opscenter.backends.dataworks import signer

    version, action = rng.choice(actions)
    if rng.random() < 0.05:
        action = rng.choice(["", "DeleteEverything", action.lower(), "é", action * 3])
    fields = {rng.choice(names): field_value(rng, ids) for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.7:
        fields.setdefault("ProjectId", "1")
    body = urlencode(fields).encode()
    host = url.removeprefix("http://")
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        "content-type": "application/x-www-form-urlencoded",
    }
    how = rng.random()
    target = f"{url}/"
    if how < 0.65:
        headers["authorization"] = signer.authorization("POST", {}, headers, body, KEY_ID, SECRET)
    elif how < 0.8:
        forged = rng.choice(["é", "x" * 64, "", "Signature", "\u202e" * 3, "00"])
        headers["authorization"] = (
            f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders=host,Signature={forged}"
        )
    elif how < 0.9:  # V2 in the query, with a junk or non-ASCII signature
        query = {
            "Action": action,
            "Version": version,
            "Format": "json",
            "Timestamp": headers["x-acs-date"],
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "AccessKeyId": KEY_ID,
            "Signature": rng.choice(["é", "abc=", "", "x" * 28]),
        }
        target = f"{url}/?{urlencode(query)}"
        headers = {"content-type": "application/x-www-form-urlencoded"}
    # else: unsigned
    return target, headers, body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fuzz_emulator(
    box: Sandbox, folder: Path, url: str, n: int, surface: Surface, ids: list[str]
) -> int:
    """``n`` requests; returns how many times the emulator had to be started (it died)."""
    actions, names = emulator_actions()
    rng = random.Random(SEED + 4)
    log = box.root / "fuzz" / "emulator.log"
    env = box.env(
        OPSCENTER_EMULATOR_ACCESS_KEY_ID=KEY_ID, OPSCENTER_EMULATOR_ACCESS_KEY_SECRET=SECRET
    )
    starts = 0
    process = None
    base = ""

    def start() -> None:
        nonlocal process, base, starts
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        args = ["emulate", "--workspace", str(folder), "--db", url, "--host", "127.0.0.1"]
        process = box.opscenter(*args, "--port", str(port), log=log, env=env)
        starts += 1
        if not wait_for(lambda: _accepts(port), 60):
            raise RuntimeError("the emulator never listened:\n" + said(log)[-2000:])

    start()
    with httpx.Client(timeout=20) as http:
        for _ in range(n):
            assert process is not None
            if process.poll() is not None:
                start()
            target, headers, body = emulator_request(rng, base, actions, names, ids)
            try:
                raw = [(k.encode(), v.encode()) for k, v in headers.items()]
                answer = http.post(target, headers=raw, content=body)
                status, text = answer.status_code, answer.text[:500]
            except httpx.LocalProtocolError:
                continue  # this client would not send it (an illegal header): not an input
            except httpx.HTTPError as error:
                status, text = 0, f"{type(error).__name__}: {error}"
            surface.inputs += 1
            surface.answers[str(status)] += 1
            if status == 0 or status >= 500:
                surface.server_errors += 1
                what = json.dumps(
                    {"url": target, "headers": headers, "body": body.decode()}, indent=1
                )
                surface.keep(what, f"answer {status}: {text}")
    surface.tracebacks = said(log).count("Traceback (most recent call last)")
    return starts


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# -- the section --------------------------------------------------------------------------------


def run(box: Sandbox, n: int) -> dict[str, object]:
    print(f"\n== fuzz: {n} inputs per surface", flush=True)
    kept: list[Path] = []

    def kept_folder() -> Path:
        if not kept:
            kept.append(Path(tempfile.mkdtemp(prefix="opscenter-adversarial-failures-")))
        return kept[0]

    base = box.folder("fuzz")
    folder = workspaces.busy_day(base / "ws")
    store = base / "state" / "state.db"
    url = f"sqlite:///{store}"
    summary = box.run(["summary", "--workspace", str(folder), "--db", url])
    if summary.code != 0:
        raise RuntimeError(f"summary failed: {summary.err}")
    with closing(sqlite3.connect(store)) as conn:
        ids = [
            str(r[0]) for r in conn.execute("SELECT id FROM instances ORDER BY random() LIMIT 20")
        ]
    surfaces = {
        name: Surface(name, kept_folder) for name in ("YAML", "parameters", "CLI", "emulator")
    }
    grammar = cli_grammar()

    def one_yaml(i: int) -> None:
        rng = random.Random(f"{SEED}-yaml-{i}")
        where = base / "yaml" / str(i)
        where.mkdir(parents=True)
        data = yaml_input(rng)
        (where / "workspace.yaml").write_bytes(data)
        ran = box.run(["validate", str(where)], timeout=HANG)
        surfaces["YAML"].judge(ran, {0, 1, 2}, data, "workspace.yaml")

    def one_parameter(i: int) -> None:
        rng = random.Random(f"{SEED}-param-{i}")
        where = base / "params" / str(i)
        where.mkdir(parents=True)
        text = parameters_input(rng)
        (where / "workspace.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        ran = box.run(["validate", str(where)], timeout=HANG)
        surfaces["parameters"].judge(ran, {0, 1, 2}, text, "workspace.yaml")
        if ran.code == 0:  # valid: deploy and generate today, which renders every expression
            db = f"sqlite:///{where / 'state.db'}"
            ran = box.run(["summary", "--workspace", str(where), "--db", db], timeout=HANG)
            surfaces["parameters"].judge(ran, {0, 1, 2}, text, "workspace.yaml")
            surfaces["parameters"].inputs -= 1  # one input, two commands

    def one_cli(i: int) -> None:
        rng = random.Random(f"{SEED}-cli-{i}")
        argv = cli_input(rng, grammar, ids)
        ran = box.run([*argv, "--workspace", str(folder), "--db", url], timeout=HANG)
        surfaces["CLI"].judge(ran, {0, 1, 2, 3, 4}, json.dumps(argv))

    times = {}
    for name, one in (("YAML", one_yaml), ("parameters", one_parameter), ("CLI", one_cli)):
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(one, range(n)))
        times[name] = time.monotonic() - started
        print(f"  {name}: {surfaces[name].line()}", flush=True)
    started = time.monotonic()
    emulator_starts = fuzz_emulator(box, folder, url, n * 4, surfaces["emulator"], ids)
    times["emulator"] = time.monotonic() - started
    print(f"  emulator: {surfaces['emulator'].line()}", flush=True)
    figures: dict[str, object] = {}
    for name, surface in surfaces.items():
        figures[f"{name}: inputs"] = surface.inputs
        figures[f"{name}: failures"] = (
            f"{surface.failures()} ({surface.line()}; {times[name]:.0f} s)"
        )
    figures["emulator starts (more than 1: it died)"] = emulator_starts
    figures["failing inputs kept in"] = str(kept[0]) if kept else "(none failed)"
    figures["kept inputs"] = [p for s in surfaces.values() for p in s.saved]
    return figures
