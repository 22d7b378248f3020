"""The CLI's bad-input contract, property-based: hypothesis feeds each command group hostile
options, data files, scenario files and databases, and every run must end with a non-zero
exit, no traceback (and no "internal error" from the last-resort net), an error line that
starts with ``critmin:``, no new file, and in bounded time.

Runs in-process through click's CliRunner (a subprocess per case would take an hour). Each
group draws at least 500 cases (``CASES``).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from critmin.cli import main
from critmin.cli_checks import cores
from critmin.data.load import MAX_TABLE_ROWS, bundled_dir
from critmin.ledger import events as ev
from critmin.ledger.service import Ledger
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role
from critmin.schema.tables import TABLES

CASES = 500
SECONDS = 20.0
SETTINGS = settings(
    max_examples=CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

BAD_FLOATS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e309", "abc", "", "1,5", "0x1A"]
NEG = st.integers(max_value=-1).map(str)
HUGE = st.integers(min_value=2**63, max_value=2**80).map(str)
JUNK = st.text(min_size=0, max_size=12).filter(lambda s: not s.strip().lstrip("-").isdigit())


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError(f"no answer within {SECONDS} s")


def listing(*folders: Path) -> set[str]:
    return {str(p) for f in folders for p in f.rglob("*")}


def run(args: list[str], where: Path, *also: Path, single: bool = False) -> str:
    """Run critmin with ``args`` in ``where``; check the contract (with ``single``, the error
    is the only line on stderr); return the error text."""
    before = listing(where, *also)
    start = time.monotonic()
    old = Path.cwd()
    os.chdir(where)
    previous = signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, SECONDS)  # a hang fails the case instead of the run
    try:
        result = CliRunner().invoke(main, args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(old)
    took = time.monotonic() - start
    text = result.output  # stdout and stderr as the terminal shows them
    err = result.stderr
    assert result.exit_code != 0, f"{args} exited 0: {text[-500:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args} raised {result.exception!r}"
    )
    assert "Traceback" not in text, f"{args}: {text[-800:]}"
    assert "internal error" not in text, f"{args}: {text[-800:]}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, f"{args}: nothing on stderr"
    assert lines[-1].startswith("critmin: "), f"{args}: {text[-500:]}"
    assert not single or len(lines) == 1, f"{args}: {len(lines)} lines on stderr: {err[-500:]}"
    assert took < SECONDS, f"{args} took {took:.1f} s"
    assert listing(where, *also) == before, f"{args} created or removed files"
    return lines[-1]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("cli")
    (folder / "a-file").write_text("not a folder\n")
    return folder


# -- analysis commands: hostile options ----------------------------------------------------

ANALYSIS = ["simulate", "rank", "optimize", "review", "exposure"]


@st.composite
def analysis_args(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(ANALYSIS))
    bad_int = st.one_of(NEG, HUGE, JUNK, st.sampled_from(["1.5", "1e3", "nan"]))
    runs_bad = st.one_of(
        st.integers(max_value=0).map(str), st.integers(1_000_001, 10**12).map(str), JUNK
    )
    files = st.sampled_from(["no-such-dir/out.json", "a-file/x.json", "."])
    choices: dict[str, list[tuple[str, st.SearchStrategy[str]]]] = {
        "simulate": [
            ("--runs", runs_bad),
            ("--seed", bad_int),
            ("--horizon", st.one_of(st.integers(max_value=0).map(str), st.integers(241).map(str))),
            ("--workers", st.integers(cores() + 1, 10**9).map(str)),
            ("--period", JUNK.filter(lambda s: s not in {"month", "quarter"})),
            ("--executor", JUNK.filter(lambda s: s not in {"local", "dask"})),
            ("--json", files),
            ("--out", st.just("a-file")),
            ("--scheduler", st.sampled_from(["tcp://127.0.0.1:1", "nonsense", "tcp://:99"])),
        ],
        "rank": [
            ("--runs", runs_bad),
            ("--seed", bad_int),
            ("--workers", st.integers(cores() + 1, 10**9).map(str)),
            ("--top", st.one_of(st.integers(max_value=0).map(str), JUNK)),
            ("--json", files),
        ],
        "optimize": [
            ("--budget", st.one_of(st.sampled_from(BAD_FLOATS), st.just("-1"), st.just("1e14"))),
            ("--partner-funds", st.sampled_from([*BAD_FLOATS, "-5"])),
            ("--runs", st.one_of(st.integers(max_value=9).map(str), runs_bad)),
            ("--seed", bad_int),
            ("--horizon", st.one_of(st.integers(max_value=0).map(str), st.integers(121).map(str))),
            (
                "--risk",
                st.sampled_from(
                    [
                        "cvar",
                        "cvar:x:y",
                        "cvar:2:0.5",
                        "var:0.9:1",
                        "cvar:nan:1",
                        "cvar:0.5:inf",
                        "cvar:0.5:nan",
                    ]
                ),
            ),
            ("--database", st.sampled_from(["sqlite:///missing.db", "sqlite:///a-file"])),
            ("--workers", st.integers(cores() + 1, 10**9).map(str)),
            ("--scheduler", st.sampled_from(["tcp://127.0.0.1:1", "nonsense", "tcp://:99"])),
            ("--json", files),
            ("--out", st.just("a-file")),
        ],
        "review": [
            ("--runs", st.one_of(st.integers(max_value=9).map(str), runs_bad)),
            ("--seed", bad_int),
            ("--year", st.one_of(st.integers(max_value=1899).map(str), st.integers(2101).map(str))),
            ("--out", st.just("a-file")),
        ],
        "exposure": [
            ("--year", st.one_of(st.integers(max_value=1899).map(str), JUNK)),
            ("--format", JUNK.filter(lambda s: s not in {"table", "json", "csv"})),
        ],
    }
    option, values = draw(st.sampled_from(choices[command]))
    args = [command]
    if command == "simulate":
        args.append("china-2025-04")
    if command == "simulate" and option == "--scheduler":
        args += ["--executor", "dask"]
    return [*args, option, draw(values)]


@SETTINGS
@given(args=analysis_args())
def test_analysis_commands_refuse_bad_options(work: Path, args: list[str]) -> None:
    run(args, work)


# -- the bad inputs a sweep found accepted or reported in more than one line ----------------

SWEEP = [
    # click's FloatRange lets NaN through (every comparison with NaN is false)
    (["simulate", "china-2025-04", "--pool-below", "nan"], "'--pool-below': 'nan' is not a finite"),
    (["data", "check", "--threshold", "nan"], "'--threshold': 'nan' is not a finite"),
    # outlook's --seed and --year were bare integers (a negative seed was an internal error)
    (["outlook", "--seed", "-1"], "'--seed': -1 is not in the range"),
    (["outlook", "--seed", str(2**64)], "'--seed'"),
    (["outlook", "--year", "-5"], "'--year': -5 is not in the range"),
    # an unknown partner country or earmark was dropped from the plan after the draws
    (["optimize", "--partner", "ZZZ:1e9"], "--partner ZZZ:1e9: unknown country 'ZZZ'"),
    (["optimize", "--partner", "JPN:1e9:unobtanium"], "unknown mineral unobtanium"),
    # a foreign entity of concern ran all the draws, then was one "refused" line, exit 0
    (
        ["optimize", "--partner", "CHN:1e8", "--runs", "10"],
        "--partner CHN:1e8: CHN is a foreign entity of concern",
    ),
    # a bad --scenario was reported after the ensemble's memory estimate
    (["optimize", "--scenario", "missing.yaml"], "missing.yaml: no such file"),
    (["optimize", "--scenario", "a-file"], "a-file: (top level): a scenario must be"),
    (["optimize", "--scenario", "."], ".: is a folder, not a scenario file"),
    # a mineral and stage with no data printed an empty table, exit 0
    (["exposure", "--mineral", "cobalt", "--stage", "magnets"], "no data for --mineral cobalt"),
    # outlook --out into a missing folder failed after the draws; a file given as data check's
    # FOLDER was called missing
    (["outlook", "--out", "no-such-dir/run.json"], "--out no-such-dir/run.json: folder"),
    (["data", "check", "a-file"], "FOLDER a-file: is a file, not a folder"),
    # an option of nothing but empty ids (an unset shell variable) selected every mineral
    (["exposure", "--mineral", ""], "--mineral '': no id given"),
    (["exposure", "--stage", " , "], "--stage ' , ': no id given"),
    (["outlook", "--mineral", ","], "--mineral ',': no id given"),
    # ... and so did the security group's own --country and --stage
    (["security", "rates", "--country", ""], "--country '': no id given"),
    (["security", "rates", "--country", ","], "--country ',': no id given"),
    (["security", "rates", "--stage", " "], "--stage ' ': no id given"),
    # an unknown country or stage printed an empty table of hazard rates, exit 0
    (["security", "rates", "--country", "XXX"], "--country: unknown XXX"),
    (["security", "rates", "--country", "PER,ZZZ"], "--country: unknown ZZZ"),
    (["security", "rates", "--stage", "nosuch"], "--stage: unknown nosuch"),
    # kept paths filled the disk (1.1 TiB here: quarters make it 3x the months, more than any
    # test machine has free; the free-space check itself: tests/simulate/test_runner.py)
    (
        [
            "simulate",
            "china-2025-04",
            "--runs",
            "1000000",
            "--horizon",
            "240",
            "--period",
            "quarter",
            "--keep-paths",
        ],
        "--keep-paths: the paths of 1,000,000 draws need about",
    ),
    # a --param without '=' was reported as "Field required" without naming it
    (
        [
            "ledger",
            "propose",
            "--motion-id",
            "m",
            "--proposer",
            "p",
            "--kind",
            "set_threshold",
            "--param",
            "noequals",
        ],
        "--param 'noequals': expected KEY=VALUE",
    ),
    # --public-key without --anchor was ignored (the walk answered ok, the key checked nothing)
    (["ledger", "verify", "--public-key", "ab12"], "--public-key 'ab12' checks an anchor's"),
]


@pytest.mark.parametrize(("args", "says"), SWEEP, ids=[" ".join(a) for a, _ in SWEEP])
def test_swept_bad_inputs_are_refused_in_one_line(work: Path, args: list[str], says: str) -> None:
    assert says in run(args, work, single=True)


# -- data check: hostile table files ---------------------------------------------------------

SMALL = ["recycling", "demand_shares", "end_uses", "reserve_forms", "prices", "import_sources"]


@st.composite
def hostile_table(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(SMALL))
    table = TABLES[name]
    lines = (bundled_dir() / table.file).read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:6]
    kind = draw(st.sampled_from(["cell", "cell", "cell", "empty", "bytes", "gz", "header"]))
    if kind == "empty":
        return f"{name}.csv", b""
    if kind == "bytes":
        junk = draw(st.binary(min_size=1, max_size=64).filter(_not_utf8))
        return f"{name}.extend.csv", (header + "\n").encode() + junk
    if kind == "gz":
        return f"{name}.extend.csv.gz", draw(st.binary(min_size=0, max_size=64))
    if kind == "header":
        return f"{name}.csv", (header + ",extra\n").encode()
    numeric = [i for i, c in enumerate(table.columns) if c.kind in {"float", "int"}]
    col = draw(st.sampled_from(numeric))
    if table.columns[col].kind == "int":
        bad = draw(st.sampled_from([*BAD_FLOATS[:-2], "2024.5", "1e400", "12.25"]))
    else:
        bad = draw(st.sampled_from([*BAD_FLOATS[:-2], "1e400", "-1e999"]))
    if bad == "" and not table.columns[col].required:
        bad = "nan"
    parsed = list(csv.reader(io.StringIO("\n".join([header, *rows]))))
    at = draw(st.integers(1, len(parsed) - 1))
    parsed[at][col] = bad
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(parsed)
    return f"{name}.csv", out.getvalue().encode()


def _not_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@SETTINGS
@given(table=hostile_table())
def test_data_check_refuses_hostile_tables(tmp_path: Path, table: tuple[str, bytes]) -> None:
    name, content = table
    folder = tmp_path / f"d{time.monotonic_ns()}"
    folder.mkdir()
    (folder / name).write_bytes(content)
    line = run(["data", "check", str(folder)], folder)
    assert "problem" in line


def test_gz_bomb_and_row_limit_are_refused_without_parsing(tmp_path: Path) -> None:
    row = b"cobalt,2024,USA,1.0,USGS_MCS2026_DR,false,\n"
    bomb = tmp_path / "recycling.extend.csv.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(b"mineral,eol_rir,year,source_id,estimated,note\n")
        for _ in range(MAX_TABLE_ROWS // 100_000 + 1):
            out.write(row * 100_000)
    assert bomb.stat().st_size < 2**20
    start = time.monotonic()
    line = run(["data", "check", str(tmp_path)], tmp_path)
    assert time.monotonic() - start < 10
    assert "problem" in line


# -- scenarios: hostile YAML -------------------------------------------------------------------

BASE = """name: hostile
start: "2025-01"
events:
  cut:
    kind: outage
    start: "{start}"
    country: COD
    stage: mining
    minerals: [cobalt]
    share: {share}
    duration_months: {duration}
uncertainties:
  - target: cut.share
    distribution: {dist}
hazards:
  - annual_probability: 0.1
    duration_months: {hazard_duration}
    severity: {severity}
"""
OK = {
    "start": "2025-01",
    "share": "0.5",
    "duration": "6",
    "dist": "{dist: uniform, low: 0.2, high: 0.8}",
    "hazard_duration": "{dist: uniform, low: 1, high: 6}",
    "severity": "{dist: uniform, low: 0.1, high: 0.5}",
}
NONFINITE = [".inf", "-.inf", ".nan", ".NaN", "1e309"]
BAD_FIELDS: dict[str, list[str]] = {
    "start": ["0000-01", "2025-13", "2025-00", "9999-01", "25-01", "2025-1"],
    "share": [*NONFINITE, "-0.1", "1.5", "abc", "null"],
    "duration": [*NONFINITE, "-3", "0", "1000000000000000", "2.5"],
    "dist": [
        "{dist: uniform, low: .nan, high: 1}",
        "{dist: uniform, low: 0, high: .inf}",
        "{dist: choice, values: []}",
        "{dist: choice}",
        "{dist: normal, mean: 0.5}",
        "{dist: uniform, low: 2, high: 1}",
        "{dist: beta, a: -1, b: 1}",
        "{dist: cauchy, low: 0, high: 1}",
        "{dist: uniform, low: -5, high: 0.5}",
    ],
    "hazard_duration": [
        "{dist: uniform, low: -6, high: -1}",
        "{dist: uniform, low: 1, high: 1e15}",
        "{dist: choice, values: [.inf]}",
    ],
    "severity": [
        "{dist: uniform, low: -1, high: 0.5}",
        "{dist: uniform, low: 0.5, high: 7}",
        "{dist: triangular, low: 0, mode: .nan, high: 1}",
    ],
}


@st.composite
def hostile_scenario(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(["field", "field", "field", "dupe", "deep", "bytes", "tag", "laughs"])
    )
    if kind == "field":
        fields = dict(OK)
        bad = draw(st.lists(st.sampled_from(sorted(BAD_FIELDS)), min_size=1, max_size=3))
        for name in bad:
            fields[name] = draw(st.sampled_from(BAD_FIELDS[name]))
        return BASE.format(**fields).encode()
    good = BASE.format(**OK)
    if kind == "dupe":
        key = draw(
            st.sampled_from(["    share: 0.4\n", "    kind: outage\n", "    country: AUS\n"])
        )
        return good.replace("    stage: mining\n", "    stage: mining\n" + key).encode()
    if kind == "deep":
        depth = draw(st.integers(25, 3000))
        return (good + "note: " + "[" * depth + "]" * depth + "\n").encode()
    if kind == "bytes":
        junk = draw(st.binary(min_size=1, max_size=16).filter(_not_utf8))
        return good.encode().replace(b"hostile", b"host" + junk, 1)
    if kind == "tag":
        return (good + "x: !!python/object/apply:os.system ['true']\n").encode()
    laughs = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 9):
        laughs += f"a{i}: &a{i} [*a{'' if i == 1 else i - 1},*a{'' if i == 1 else i - 1}]\n"
    return (good + laughs).encode()


@SETTINGS
@given(body=hostile_scenario())
def test_simulate_refuses_hostile_scenarios(work: Path, body: bytes) -> None:
    path = work / "hostile.yaml"
    path.write_bytes(body)
    try:
        run(["simulate", "hostile.yaml", "--runs", "10"], work)
    finally:
        path.unlink()


# -- ledger, users, serve: hostile options and databases --------------------------------------


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ledger")
    url = f"sqlite:///{folder / 'ok.db'}"
    db = Ledger.open(url, create=True)
    db.submit(ev.Genesis(appropriation_usd=Decimal("1e9")), "init", "genesis")
    add_user(db.engine, "op", Role.OPERATOR)
    db.dispose()
    (folder / "text.db").write_text("hello, not a database\n")
    (folder / "zero.db").write_bytes(b"")
    return folder


READS = [["ledger", "verify"], ["ledger", "show", "lot"], ["users", "list"], ["optimize"]]
URLS = ["missing.db", "sub/missing.db", "text.db", "zero.db", "a-file/x.db"]


@st.composite
def ledger_args(draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(["read", "init", "verb", "users", "serve", "anchor"]))
    ok = "sqlite:///ok.db"
    if kind == "read":
        url = draw(
            st.one_of(
                st.sampled_from(URLS).map(lambda p: f"sqlite:///{p}"),
                st.just("postgresql://critmin:x@127.0.0.1:1/none"),
                st.just("mysql://nowhere/db"),
            )
        )
        return [*draw(st.sampled_from(READS)), "--database", url]
    if kind == "init":
        option = draw(st.sampled_from(["--appropriation", "--threshold"]))
        value = draw(st.one_of(st.sampled_from(BAD_FLOATS), st.just("-1"), st.just("1e14")))
        if option == "--threshold" and value == "":
            value = "nan"
        return ["ledger", "init", option, value, "--database", "sqlite:///new.db"]
    if kind == "verb":
        verb = draw(st.sampled_from(["acquire", "price", "loan", "release", "vote"]))
        actor = draw(st.sampled_from(["ghost", "op", "", "a b", "x" * 300]))
        base = ["ledger", verb, "--database", ok, "--actor", actor]
        if verb == "acquire":
            qty = draw(st.sampled_from([*BAD_FLOATS, "-1", "0", "1e20"]))
            return [*base, "--lot-id", "l", "--mineral", "cobalt", "--form", "f",
                    "--location", "d", "--seller", "s", "--seller-country", "AUS",
                    "--price-usd-per-t", "30000", "--quantity-t", qty]  # fmt: skip
        if verb == "price":  # op is an operator: never allowed to enter prices
            as_of = draw(st.sampled_from(["2025-01-01", "9999-12-31", "x"]))
            return [*base, "--mineral", "cobalt", "--usd-per-t", "5", "--as-of", as_of,
                    "--source", "s"]  # fmt: skip
        if verb == "loan":
            return [*base, "--loan-id", "L", "--lot-id", "nope", "--quantity-t", "1",
                    "--counterparty", "c", "--counterparty-country", "JPN", "--return-date",
                    draw(st.sampled_from(["9999-01-01", "2000-01-01", "soon"]))]  # fmt: skip
        if verb == "release":
            return [*base, "--release-id", "r", "--lot-id", "nope", "--quantity-t", "1",
                    "--price-usd-per-t", "7", "--buyer", "b", "--buyer-country", "USA",
                    "--trigger", draw(st.sampled_from(["supply_shock", "whim"]))]  # fmt: skip
        return [*base, "--motion-id", "m", "--member", "op", "--vote", "yes"]
    if kind == "users":
        sub = draw(st.sampled_from(["add", "revoke"]))
        if sub == "revoke":
            return ["users", "revoke", draw(st.sampled_from(["ghost", "nobody"])), "--database", ok]
        name = draw(
            st.one_of(
                st.sampled_from(["a b", "x" * 150, "", "-x", "ü", "a/b"]),
                st.text(min_size=65, max_size=80),
            )
        )
        country = draw(st.sampled_from(["ZZ", "aus", "CHN", "RUS", "XXXX", ""]))
        args = ["users", "add", "--role", "partner", "--country", country, "--database", ok]
        return [*args, "--", name] if name.startswith("-") else [*args, name]
    if kind == "serve":
        option = draw(st.sampled_from(["--port", "--max-body"]))
        low, high = (0, 65536) if option == "--port" else (1023, 2**30 + 1)
        value = draw(
            st.one_of(
                st.integers(high, 10**12).map(str),
                st.integers(max_value=low).map(str),
                JUNK,
            )
        )
        return ["serve", option, value, "--database", "sqlite:///new.db"]
    source = draw(st.sampled_from(["missing.json", "text.db", "file:///etc/passwd", "zero.db"]))
    return ["ledger", "verify", "--anchor", source, "--database", ok]


@SETTINGS
@given(args=ledger_args())
def test_ledger_commands_refuse_bad_input_and_create_nothing(
    ledger_dir: Path, args: list[str]
) -> None:
    run(args, ledger_dir)


def test_an_actor_without_the_verbs_role_is_named_with_both_roles(tmp_path: Path) -> None:
    """It read "'ana' is a analyst; `acquire` needs a operator user"."""
    db = Ledger.open(f"sqlite:///{tmp_path / 'roles.db'}", create=True)
    add_user(db.engine, "ana", Role.ANALYST)
    db.dispose()
    args = ["ledger", "acquire", "--database", "sqlite:///roles.db", "--actor", "ana",
            "--lot-id", "l", "--mineral", "cobalt", "--form", "metal", "--location", "d",
            "--seller", "s", "--seller-country", "AUS", "--price-usd-per-t", "30000",
            "--quantity-t", "1"]  # fmt: skip
    says = run(args, tmp_path, single=True)
    assert "--actor 'ana' has the role analyst; `acquire` needs the role operator" in says


def test_a_reader_that_stops_early_gets_no_internal_error() -> None:
    """``critmin outlook --level chain | head -1``: the reader closes the pipe after a line
    while the table (some 100 kB, in two parts, so two writes) is still being written. The
    command ends quietly (status 1 as rich's own broken-pipe exit, or 0 when the last write
    went through), never with "critmin: internal error: BrokenPipeError", which the two-part
    table printed before ``Guarded`` caught the broken pipe."""
    command = [sys.executable, "-c", "from critmin.cli import main; main()"]
    with subprocess.Popen(
        [*command, "outlook", "--level", "chain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    assert b"Outlook" in first, err
    assert err == ""
    assert proc.returncode in (0, 1)
