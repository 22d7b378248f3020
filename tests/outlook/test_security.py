"""The security register: Gamma-Poisson hazard rates and the refusals of bad entries."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from critmin.api.app import create_app
from critmin.chain import SupplyChain
from critmin.ledger import events as ev
from critmin.ledger.errors import Refused
from critmin.ledger.service import Ledger
from critmin.ledger.users import add_user
from critmin.ledger.vocabulary import Role
from critmin.security.hazard import hazard_rates, posterior
from critmin.security.incident import check_incident, parse_incident
from critmin.security.store import list_incidents, record_incident

START = date(2000, 1, 1)


def _incidents(n: int, until: date) -> pd.DataFrame:
    span = (until - START).days
    days = np.linspace(0, span, n, endpoint=False).astype(int) if n else []
    return pd.DataFrame(
        {
            "country": ["CHN"] * n,
            "stage": ["refining"] * n,
            "threat": ["sabotage"] * n,
            "date": [START + timedelta(days=int(d)) for d in days],
        }
    )


def test_rates_move_towards_the_observed_rate_as_incidents_accumulate(
    small: SupplyChain,
) -> None:
    observed = 0.5  # incidents per year at one node, far above the prior
    gaps = []
    prior = None
    for years in (1, 2, 4, 8, 16):
        until = START + timedelta(days=round(years * 365.25))
        post = posterior(small, _incidents(int(observed * years), until), since=START, until=until)
        rate = float(post["rate"].sel(country="CHN", stage="refining", threat="sabotage"))
        prior = float(post["prior_rate"].sel(threat="sabotage"))
        n_over_e = float(post["incidents"].sel(country="CHN", stage="refining", threat="sabotage"))
        n_over_e /= post.attrs["exposure_years"]
        assert min(prior, n_over_e) - 1e-12 <= rate <= max(prior, n_over_e) + 1e-12
        gaps.append(abs(rate - observed))
    assert all(b < a for a, b in itertools.pairwise(gaps)), gaps
    # a quiet node of an observed country drifts towards zero from the prior, never above it
    quiet = float(post["rate"].sel(country="CHN", stage="mining", threat="sabotage"))
    assert 0 < quiet < prior
    # a country the register never reports on is not observed: it keeps the prior
    unseen = float(post["rate"].sel(country="JPN", stage="refining", threat="sabotage"))
    assert unseen == pytest.approx(prior)
    told = posterior(small, _incidents(2, until), since=START, until=until, observed={"JPN"})
    assert float(told["rate"].sel(country="JPN", stage="refining", threat="sabotage")) < prior


def test_hazard_rates_are_labelled_by_country_stage_threat(bundled: SupplyChain) -> None:
    rates = hazard_rates(bundled, until=date(2025, 12, 31))
    assert rates.dims == ("country", "stage", "threat")
    assert {"CHN", "PER"} <= set(rates.country.values)
    per = rates.sel(country="PER", stage="mining")
    assert float(per.sel(threat="blockade")) > float(per.sel(threat="theft"))
    assert np.isfinite(rates.sel(country="CHN", stage="refining")).all()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    ledger.submit(ev.Genesis(appropriation_usd=Decimal("1e9")), "init", "genesis")
    yield ledger
    ledger.dispose()


LABELS = {
    "facilities": frozenset({"syrah-vidalia"}),
    "countries": frozenset({"USA", "CHN"}),
    "minerals": frozenset({"graphite"}),
}
GOOD = {
    "site_kind": "facility",
    "site": "syrah-vidalia",
    "country": "USA",
    "stage": "anode",
    "threat": "drone_incursion",
    "date": "2025-06-01",
    "duration_days": 2,
    "source": "test report",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"site": "nowhere"}, "site"),
        ({"date": (date.today() + timedelta(days=3)).isoformat()}, "date"),
        ({"duration_days": -1}, "duration_days"),
        ({"threat": "meteor"}, "threat"),
        ({"country": "XYZ"}, "country"),
        ({"severity": 1.5}, "severity"),
        ({"date": "2025-02-30"}, "date"),
    ],
)
def test_bad_entries_are_refused_with_the_field_and_nothing_is_stored(
    db: Ledger, change: dict[str, object], field: str
) -> None:
    with pytest.raises(Refused) as err:
        record_incident(db, parse_incident({**GOOD, **change}), "op", **LABELS)
    assert err.value.field == field
    assert field in err.value.message
    assert list_incidents(db.engine).empty


def test_a_good_entry_is_stored_and_counted(db: Ledger, small: SupplyChain) -> None:
    record_incident(db, parse_incident(GOOD), "op", **LABELS)
    stored = list_incidents(db.engine)
    assert len(stored) == 1
    assert stored.loc[0, "recorded_by"] == "op"
    rates = hazard_rates(small, stored, until=date.today())
    assert float(rates.sel(country="USA", stage="anode", threat="drone_incursion")) > float(
        rates.sel(country="USA", stage="anode", threat="theft")
    )


def test_depot_must_be_a_ledger_location() -> None:
    incident = parse_incident({**GOOD, "site_kind": "depot", "site": "vault-9"})
    with pytest.raises(Refused, match="unknown depot"):
        check_incident(incident, depots=frozenset({"vault-1"}), today=date.today(), **LABELS)


def test_api_register_roles_and_refusals(db: Ledger) -> None:
    tokens = {r: add_user(db.engine, r.value, r) for r in (Role.OPERATOR, Role.ANALYST)}
    head = {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}
    with TestClient(create_app(db)) as client:
        bad = client.post(
            "/security/incidents", json={**GOOD, "site": "ghost-plant"}, headers=head[Role.OPERATOR]
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "site"
        future = (date.today() + timedelta(days=1)).isoformat()
        bad = client.post(
            "/security/incidents", json={**GOOD, "date": future}, headers=head[Role.OPERATOR]
        )
        assert bad.json()["error"]["field"] == "date"
        bad = client.post(
            "/security/incidents", json={**GOOD, "duration_days": -5}, headers=head[Role.OPERATOR]
        )
        assert bad.json()["error"]["field"] == "duration_days"
        assert (
            client.post("/security/incidents", json=GOOD, headers=head[Role.ANALYST]).status_code
            == 403
        )
        assert client.post("/security/incidents", json=GOOD).status_code == 401
        ok = client.post("/security/incidents", json=GOOD, headers=head[Role.OPERATOR])
        assert ok.status_code == 201, ok.json()
        listed = client.get("/security/incidents", headers=head[Role.ANALYST]).json()
        assert [r["site"] for r in listed] == ["syrah-vidalia"]
        rates = client.get(
            "/security/hazards", params={"country": "USA"}, headers=head[Role.ANALYST]
        ).json()
        drone = [r for r in rates if r["stage"] == "anode" and r["threat"] == "drone_incursion"]
        assert drone
        assert drone[0]["incidents"] == 1


def test_outage_probability_combines_threats(bundled: SupplyChain) -> None:
    from critmin.security.hazard import annual_outage_probability  # noqa: PLC0415

    until = date(2025, 12, 31)
    p = annual_outage_probability(bundled, until=until)
    rates = hazard_rates(bundled, until=until)
    expected = 1 - np.exp(-float(rates.sel(country="PER", stage="mining").sum()))
    assert p.dims == ("country", "stage")
    assert float(p.sel(country="PER", stage="mining")) == pytest.approx(expected)


def test_posture_refuses_unknown_depot_and_posture(db: Ledger) -> None:
    from critmin.security.store import postures, set_posture  # noqa: PLC0415

    with pytest.raises(Refused) as err:
        set_posture(db, "nowhere", "high", "", "op")
    assert err.value.field == "location"
    with pytest.raises(Refused) as err:
        set_posture(db, "nowhere", "panic", "", "op")
    assert err.value.field == "posture"
    assert postures(db.engine).empty


def test_cli_security_add_refuses_in_one_line(db: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from critmin.cli import main  # noqa: PLC0415

    url = str(db.engine.url)
    add_user(db.engine, "op", Role.OPERATOR)
    add_user(db.engine, "reader", Role.ANALYST)
    base = ["security", "add", "--database", url, "--site-kind", "facility"]
    base += ["--country", "USA", "--stage", "anode", "--threat", "theft", "--source", "test"]
    future = (date.today() + timedelta(days=10)).isoformat()
    cases = [
        (["--site", "ghost", "--date", "2025-01-01", "--actor", "op"], "site: unknown facility"),
        (["--site", "syrah-vidalia", "--date", future, "--actor", "op"], "date:"),
        (
            [
                "--site",
                "syrah-vidalia",
                "--date",
                "2025-01-01",
                "--duration-days",
                "-2",
                "--actor",
                "op",
            ],
            "duration_days:",
        ),
        (["--site", "syrah-vidalia", "--date", "2025-01-01", "--actor", "reader"], "actor:"),
    ]
    runner = CliRunner()
    for extra, needle in cases:
        res = runner.invoke(main, base + extra)
        assert res.exit_code == 1, res.output
        assert needle in res.output
        assert len(res.output.strip().splitlines()) == 1
    assert list_incidents(db.engine).empty
    ok = runner.invoke(
        main, [*base, "--site", "syrah-vidalia", "--date", "2025-01-01", "--actor", "op"]
    )
    assert ok.exit_code == 0, ok.output
    assert len(list_incidents(db.engine)) == 1


def test_unmigrated_database_is_refused_in_one_line(tmp_path: Path) -> None:
    import sqlite3  # noqa: PLC0415

    from click.testing import CliRunner  # noqa: PLC0415

    from critmin.cli import main  # noqa: PLC0415
    from critmin.ledger.service import Ledger  # noqa: PLC0415

    # a ledger from before migration 0003: the ledger's tables, none of the register's
    path = tmp_path / "old.db"
    Ledger.open(f"sqlite:///{path}", create=True).dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("drop table security_incidents")
        conn.execute("drop table depot_security")
        conn.execute("update alembic_version set version_num = '0002'")
    res = CliRunner().invoke(main, ["security", "list", "--database", f"sqlite:///{path}"])
    assert res.exit_code == 1
    assert "no security register tables" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [({"country": "XXX"}, "country", "XXX"), ({"stage": "nosuch"}, "stage", "nosuch")],
)
def test_api_hazards_refuses_an_unknown_country_or_stage(
    db: Ledger, params: dict[str, str], field: str, value: str
) -> None:
    token = add_user(db.engine, "reader", Role.ANALYST)
    with TestClient(create_app(db)) as client:
        got = client.get(
            "/security/hazards", params=params, headers={"Authorization": f"Bearer {token}"}
        )
    assert got.status_code == 422, got.json()
    error = got.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: unknown {value}")
    assert "\n" not in error["message"]
