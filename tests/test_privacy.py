"""Small segments leak nothing: an end-to-end run on generated customers plus three far-away
customers with unique values, who form their own segment below ``output.min_segment_size``.
None of their values, nor their segment's mean, std or median, appears in any exported file
of the run, of a retrain that takes it as ``previous_run``, of scoring, or in the report,
formatted any way pandas, CSV, JSON or the report would print them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.attacker import (
    Number,
    distinct,
    exported_totals,
    files_under,
    numbers_in_mlflow,
    numbers_in_tree,
    recoveries,
    segment_secrets,
    totals_over_everyone,
)
from support.runs import fixed_k_config, write_parquet

from segmentation.outputs.layout import EXPORTABLE, STAYS_WITH_DATA, THRESHOLDS_CSV
from segmentation.report import build_report
from segmentation.report.fmt import compact
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers

#: The three customers, far from everyone and from each other's digits.
UNIQUE = pd.DataFrame({
    "customer_id": [9_000_001, 9_000_002, 9_000_003],
    "age": [913.37, 933.91, 956.53],  # about 60 standard deviations above the rest
    "annual_income": [9871.234, 9923.457, 9988.642],
    "spend_12m": [987654.32, 991234.57, 995678.91],
    "orders_12m": np.array([777, 781, 794], dtype="int32"),
    "days_since_last_order": np.array([4321, 4339, 4358], dtype="int32"),
    "avg_basket": [54321.77, 54389.13, 54455.29],
    "web_share": [0.0137, 0.0171, 0.0193],
    "tenure_months": np.array([1357, 1369, 1384], dtype="int32"),
    "channel": ["kiosk"] * 3,  # a level no other customer has
    "region": ["north"] * 3,
    "true_segment": np.array([9, 9, 9], dtype="int32"),
    "churned": [True, True, False],  # profile columns (not clustered): attributes.csv
    "revenue_next_q": [86420.97, 88642.19, 91864.53],
})
NUMERIC = [c for c in UNIQUE.columns if UNIQUE[c].dtype.kind in "fi"
           and c not in ("customer_id", "true_segment")]
CATEGORICAL = ["channel", "region", "churned"]
PROFILE_COLUMNS = ["region", "churned", "revenue_next_q"]
#: The clustered numeric features (profiles.csv shows their statistics).
FEATURES = [c for c in NUMERIC if c not in PROFILE_COLUMNS]
K = 7  # six generated segments and the three


def secrets() -> set[float]:
    """Each of the three customers' values and their segment's mean, std and median."""
    values: set[float] = set()
    for column in NUMERIC:
        x = UNIQUE[column].astype(float)
        values |= {*x, x.mean(), x.std(), x.std(ddof=0), x.median()}
    return values


def renderings(value: float) -> set[str]:
    """``value`` as pandas, CSV (%.10g), JSON (repr), f-strings and the report print it.

    Renderings with fewer than three significant digits (0.02, 98, 18.0) would match
    unrelated numbers, so they are left out; the values are chosen so that three digits are
    unique (and no std is a round number).
    """
    texts = {repr(value), str(value), f"{value:.10g}", compact(value),
             compact(value, digits=4)}
    texts |= {f"{value:.{n}g}" for n in range(3, 11)}
    for decimals in range(4):
        texts |= {f"{value:.{decimals}f}", f"{value:,.{decimals}f}"}
    return {t for t in texts if len(significant(t)) >= 3}


def significant(text: str) -> str:
    """The significant digits of a rendered number: no sign, separators, leading zeros or
    zeros after the last non-zero decimal."""
    mantissa = re.split(r"[eE]", text)[0]
    if "." in mantissa:
        mantissa = mantissa.rstrip("0")
    return re.sub(r"\D", "", mantissa).lstrip("0")


def leaks(text: str) -> list[str]:
    """Every rendering of a secret found in ``text`` as a whole number (not inside another)."""
    found = []
    for value in secrets():
        for shown in renderings(value):
            if re.search(rf"(?<![\d.]){re.escape(shown)}(?!\d|\.\d)", text):
                found.append(shown)
    if re.search(r"kiosk", text, re.IGNORECASE):
        found.append("kiosk")
    return found


#: Wall-clock numbers (not data), which can match a three-digit rendering by chance.
CLOCK_KEYS = ("timings", "duration_seconds", "started_at", "finished_at")
CLOCK_ROWS = re.compile(r"<tr><th>(Stage timings|Duration|Started|Finished)</th>.*?</tr>")


def without_clock(path: Path, text: str) -> str:
    """``text`` without its timings: the manifest's clock keys, the report's timing rows."""
    if path.name == "manifest.json":
        data = json.loads(text)
        return json.dumps({k: v for k, v in data.items() if k not in CLOCK_KEYS})
    return CLOCK_ROWS.sub("", text) if path.suffix == ".html" else text


def exported_texts(run: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of every exportable file of ``run`` (timings aside); Parquet tables as
    CSV text."""
    for path in files_under(run, EXPORTABLE):
        if path.name.startswith((".", "_")) and path.stat().st_size == 0:
            continue
        if path.suffix == ".parquet":
            table = pd.read_parquet(path)
            yield str(path), table.to_csv(index=False) + repr(table.to_dict())
        elif path.suffix != ".png" and not path.name.endswith(".crc"):
            yield str(path), without_clock(path, path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def data(make_customers, tmp_path_factory) -> Path:
    generated = pd.read_parquet(make_customers(3000, seed=17))
    customers = pd.concat([generated, UNIQUE], ignore_index=True)
    return write_parquet(customers, tmp_path_factory.mktemp("privacy") / "customers", files=2)


def config(data: Path, out: Path, **model) -> dict:
    cfg = fixed_k_config(data, out, K, **model)
    cfg["output"].update(pca_sample_size=800, min_segment_size=50)
    cfg["features"]["profile_columns"] = PROFILE_COLUMNS
    return cfg


@pytest.fixture(scope="module")
def runs(spark, data, tmp_path_factory) -> tuple[Path, Path, Path]:
    """The run, a retrain with it as ``previous_run``, and scoring with its model."""
    root = tmp_path_factory.mktemp("runs")
    first, second, scored = root / "first", root / "second", root / "scored"
    run_segmentation(spark, config_from_dict(config(data, first)))
    run_segmentation(spark, config_from_dict(config(data, second, seed=5,
                                                    previous_run=str(first))))
    score_customers(spark, model_run=str(first), input_path=str(data),
                    output_path=str(scored))
    for run in (first, second):
        build_report(run)
    return first, second, scored


def small_segment(run: Path) -> int:
    labels = pd.read_parquet(run / "labels")
    segment = labels.loc[labels.customer_id.isin(UNIQUE.customer_id), "segment"].unique()
    assert len(segment) == 1 and (labels.segment == segment[0]).sum() == 3
    return int(segment[0])


def test_the_three_customers_form_their_own_segment(runs) -> None:
    for run in runs[:2]:
        small_segment(run)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["run", "retrain", "scoring"])
def test_no_exported_file_holds_their_values(runs, which) -> None:
    texts = dict(exported_texts(runs[which]))
    assert any(name.endswith("segments.csv") for name in texts)
    if which < 2:
        assert any(name.endswith("index.html") for name in texts)
        assert any(name.endswith("profiles.csv") for name in texts)
    found = {name: leaks(text) for name, text in texts.items()}
    assert not any(found.values()), {n: f for n, f in found.items() if f}


def test_the_private_files_do_hold_them(runs) -> None:
    """The check above would find the values: the labels' segment, the private thresholds
    and the model stay with the data and do depend on the three."""
    run = runs[0]
    thresholds = pd.read_csv(run / THRESHOLDS_CSV).set_index("segment")["distance_p99"]
    assert np.isfinite(thresholds[small_segment(run)])
    assert leaks(UNIQUE.to_csv(index=False))


def test_every_file_of_a_run_is_classified(runs) -> None:
    for run in runs[:2]:
        names = {p.name for p in run.iterdir() if not p.name.startswith(".report")}
        assert names <= set(EXPORTABLE) | set(STAYS_WITH_DATA), names


def test_their_segment_keeps_its_size_and_is_marked(runs) -> None:
    run, _, scored = runs
    segment = small_segment(run)
    segments = pd.read_csv(run / "segments.csv").set_index("segment")
    row = segments.loc[segment]
    assert row["size"] == 3 and row["suppressed"]
    assert row[["mean_distance", "distance_p99", "description"]].isna().all()
    assert not segments.drop(index=segment)["suppressed"].any()
    profiles = pd.read_csv(run / "profiles.csv")
    mine = profiles[profiles.segment == segment]
    assert mine["suppressed"].all() and mine[["count", "mean", "std", "z"]].isna().all().all()
    centroids = pd.read_csv(run / "centroids_2d.csv").set_index("segment")
    assert centroids.loc[segment, "suppressed"] and centroids.loc[segment, ["pc1", "pc2"]] \
        .isna().all()
    assert segment not in set(pd.read_csv(run / "scatter.csv")["segment"])
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["privacy"]["suppressed_segments"] == [segment]
    assert manifest["privacy"]["customers_shown"] == 3000
    drift = pd.read_csv(scored / "segments.csv").set_index("segment").loc[segment]
    assert drift["size"] == 3 and drift["suppressed"] and np.isnan(drift["drift_share"])


def test_overall_statistics_are_over_the_shown_customers(runs, data) -> None:
    run = runs[0]
    customers = pd.read_parquet(data)
    shown = customers[~customers.customer_id.isin(UNIQUE.customer_id)]
    overall = pd.read_csv(run / "profiles.csv").groupby("feature")[
        ["overall_mean", "overall_std"]].first()
    for column in FEATURES:
        assert overall.loc[column, "overall_mean"] == pytest.approx(shown[column].mean(),
                                                                    rel=1e-9)
        assert overall.loc[column, "overall_std"] == pytest.approx(shown[column].std(),
                                                                   rel=1e-9)
    shares = shown["channel"].value_counts(normalize=True)
    for level, share in shares.items():
        assert overall.loc[f"channel={level}", "overall_mean"] == pytest.approx(share)
    attributes = pd.read_csv(run / "attributes.csv")
    revenue = attributes[attributes["attribute"] == "revenue_next_q"]["overall"].dropna()
    assert revenue.to_numpy() == pytest.approx(shown["revenue_next_q"].mean(), rel=1e-9)


def test_migration_withholds_their_cells_and_centroid_shift(runs) -> None:
    _, second, _ = runs
    segment = small_segment(second)
    counts = pd.read_csv(second / "migration.csv")
    assert (counts.loc[~counts["suppressed"], "count"] >= 50).all()
    assert counts.loc[counts["suppressed"], "count"].isna().all()
    assert counts.loc[counts.segment == segment, "suppressed"].all()
    migration = json.loads((second / "manifest.json").read_text())["migration"]
    assert str(segment) not in migration["centroid_shift"]


def test_the_report_says_statistics_are_withheld(runs) -> None:
    page = (runs[0] / "report" / "index.html").read_text(encoding="utf-8")
    assert "fewer than 50 customers: statistics withheld" in page
    assert "customers of the shown segments" in page


@pytest.fixture(scope="module")
def with_missing(spark, make_customers, tmp_path_factory) -> tuple[Path, Path]:
    """A run and its scoring where one of the three lacks two values (imputed, kept)."""
    unique = UNIQUE.copy()
    unique.loc[1, "age"] = np.nan
    unique.loc[2, "web_share"] = np.nan
    generated = pd.read_parquet(make_customers(3000, seed=17))
    root = tmp_path_factory.mktemp("missing")
    data = write_parquet(pd.concat([generated, unique], ignore_index=True),
                         root / "customers", files=2)
    run, scored = root / "run", root / "scored"
    run_segmentation(spark, config_from_dict(config(data, run)))
    score_customers(spark, model_run=str(run), input_path=str(data), output_path=str(scored))
    return run, scored


def test_no_count_gives_a_withheld_segments_missing_values_by_subtraction(
        with_missing) -> None:
    """An attacker's sum: a manifest's missing-value count of a feature, minus what the shown
    segments' sizes and counts say they miss, is the withheld segment's. Every exported
    count of missing values must therefore be over the shown segments only."""
    run, scored = with_missing
    segments = pd.read_csv(run / "segments.csv")
    shown = segments.loc[~segments["suppressed"], "segment"]
    assert segments["suppressed"].sum() == 1
    profiles = pd.read_csv(run / "profiles.csv")
    numeric = profiles[(profiles["kind"] == "numeric") & profiles["segment"].isin(shown)]
    sizes = segments.set_index("segment")["size"]
    missing_in_shown = (numeric.assign(size=numeric["segment"].map(sizes))
                        .assign(missing=lambda f: f["size"] - f["count"])
                        .groupby("feature")["missing"].sum())
    for folder in (run, scored):
        exported = json.loads((folder / "manifest.json").read_text()).get("missing_values")
        for feature, kinds in (exported or {}).items():
            assert sum(kinds.values()) == missing_in_shown.get(feature, 0), (folder, feature)
    privacy = json.loads((run / "manifest.json").read_text())["privacy"]
    assert privacy["withheld_counts"] == ["missing_values"]


def test_kept_share_is_withheld_with_a_withheld_diagonal_cell(runs) -> None:
    """``kept_share`` times the customers in both runs, minus the shown diagonal cells, is
    the withheld diagonal cells' total: it is left out when one is withheld."""
    _, second, _ = runs
    cells = pd.read_csv(second / "migration.csv").dropna(subset=["previous_segment", "segment"])
    diagonal = cells[cells["previous_segment"] == cells["segment"]]
    assert diagonal["suppressed"].any()  # the three customers kept their segment
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["migration"]["kept_share"] is None
    assert "migration.kept_share" in manifest["privacy"]["withheld_counts"]


def cell_bounds(complete: pd.DataFrame, shown: pd.DataFrame) -> list[tuple[float, float]]:
    """The least and greatest value an attacker can give each withheld cell: every
    exported cell, each row's and column's total (the runs' exported segment sizes) and
    counts of at least zero, solved as linear programs (scipy, independent of the rule)."""
    from scipy.optimize import linprog

    keys = ["previous_segment", "segment"]
    merged = complete.merge(shown, on=keys, how="outer", suffixes=("", "_shown"))
    merged["count"] = merged["count"].fillna(0)
    withheld = merged.index[merged["suppressed"].fillna(True).astype(bool)]
    equalities, totals = [], []
    for key in keys:
        for _, line in merged.groupby(merged[key].astype("Int64").fillna(-1)):
            equalities.append([1.0 if i in line.index else 0.0 for i in withheld])
            totals.append(line["count"].sum() - line.loc[~line.index.isin(withheld),
                                                         "count"].sum())
    bounds = []
    for j in range(len(withheld)):
        objective = np.eye(len(withheld))[j]
        low = linprog(objective, A_eq=equalities, b_eq=totals, bounds=(0, None))
        high = linprog(-objective, A_eq=equalities, b_eq=totals, bounds=(0, None))
        assert low.status == 0 and high.status == 0
        bounds.append((low.fun, -high.fun))
    return bounds


def test_a_lone_withheld_cell_cannot_be_recovered_from_the_line_totals() -> None:
    """Previous segment 3 (four customers) moved whole into segment 1: its row has a single
    cell, equal to its exported size. Every withheld cell must keep a range of values."""
    from segmentation.outputs.privacy import suppress_small_cells

    complete = pd.DataFrame({
        "previous_segment": [0, 0, 0, 1, 1, 1, 2, 2, 2, 3],
        "segment": [0, 1, 2, 0, 1, 2, 0, 1, 2, 1],
        "count": [500, 60, 70, 80, 400, 90, 55, 65, 600, 4],
    }).astype("Int64")
    shown = suppress_small_cells(complete, 50)
    assert shown.loc[shown["suppressed"], "count"].isna().all()
    lone = (shown["previous_segment"] == 3) & (shown["segment"] == 1)
    assert shown.loc[lone, "suppressed"].all()
    for low, high in cell_bounds(complete, shown):
        assert high - low >= 1, (low, high)


def clock(where: str) -> bool:
    """Whether an exported number is a wall-clock time or duration (not data)."""
    return any(word in where for word in (*CLOCK_KEYS, "seconds"))


def exported_numbers(run: Path) -> list[Number]:
    return [n for n in numbers_in_tree(run, EXPORTABLE, without_clock) if not clock(n.where)]


#: Totals that are exported although they include the withheld segments, and why no
#: subtraction isolates them (checked by the attack below): WCSS (metrics.csv, MLflow) is
#: every customer's squared distance, but no segment's sum of squared distances is exported.
NOT_A_SUBTRACTION_AWAY = {"all customers' distance sum of squares": "distance sum of squares"}


def labelled_customers(data: Path, labelled: Path) -> pd.DataFrame:
    """The customers with their segment and distance (the labels stay with the data)."""
    labels = pd.read_parquet(labelled / "labels")[["customer_id", "segment", "distance"]]
    return pd.read_parquet(data).merge(labels, on="customer_id")


def attack(numbers: list[Number], rows: pd.DataFrame, exported: Path) -> list[str]:
    """What the attacker recovers from ``numbers`` about the withheld segments of the run
    or scoring at ``exported``; ``rows``: its customers (:func:`labelled_customers`)."""
    segments = pd.read_csv(exported / "segments.csv")
    withheld = segments.loc[segments["suppressed"], "segment"].tolist()
    shown = segments.loc[~segments["suppressed"], "segment"].tolist()
    assert withheld
    totals = totals_over_everyone(rows, withheld, NUMERIC, CATEGORICAL)
    found = recoveries(numbers, segment_secrets(rows, withheld, NUMERIC, CATEGORICAL))
    found += exported_totals(
        numbers, {k: v for k, v in totals.items() if k not in NOT_A_SUBTRACTION_AWAY})
    for part in NOT_A_SUBTRACTION_AWAY.values():
        found += recoveries(numbers, {name: value for name, value in segment_secrets(
            rows, shown, NUMERIC, CATEGORICAL).items() if name.endswith(part)})
    return found


@pytest.mark.parametrize("which", ["run", "retrain", "scoring", "run with missing values",
                                   "its scoring"])
def test_an_attacker_of_every_exported_number_recovers_nothing(runs, with_missing, data,
                                                                which) -> None:
    """Every number of every exported file, each alone, as sums and differences of two,
    and as totals over every customer to subtract the shown segments from. The same
    attacker does find a shown segment's statistics in a run's files."""
    first, second, scored = runs
    run, scored_missing = with_missing
    exported, source = {
        "run": (first, data), "retrain": (second, data), "scoring": (scored, data),
        "run with missing values": (run, run.parent / "customers"),
        "its scoring": (scored_missing, run.parent / "customers"),
    }[which]
    numbers = exported_numbers(exported)
    rows = labelled_customers(source, exported)
    assert attack(numbers, rows, exported) == []
    if "scoring" not in which:
        shown = segment_secrets(rows, [0], FEATURES, [])
        # (Spark's quantiles are approximate, and no distance statistic but the mean is
        # exported: the rest is what profiles.csv gives exactly)
        profiled = {name for name, secret in shown.items() if distinct(secret.value)
                    and "distance" not in name
                    and name.endswith(("mean", "sample std", "min", "max"))}
        assert len(profiled) > 2 * len(FEATURES)
        assert profiled <= {f.split(" = ")[0] for f in recoveries(numbers, shown)}


def test_the_attacker_finds_a_total_a_difference_and_a_value() -> None:
    """The attacker at work on what exports gave before the privacy passes: a mean over
    every customer, a missing count over every row (totals to subtract the shown segments
    from), a total and the shown part of it, a withheld segment's mean."""
    rows = pd.DataFrame({"segment": [0] * 4 + [1] * 4 + [2] * 3,
                         "age": [31.5, 42.25, 38.0, 55.125, 23.0, 29.5, 33.75, 27.0,
                                 913.37, 1001.53, np.nan],
                         "distance": np.linspace(0.1234567, 1.9876543, 11),
                         "channel": ["web"] * 8 + ["kiosk"] * 3})
    mean_of_everyone = Number(rows["age"].mean(), 1e-15, "profiles.csv:overall_mean[age]")
    missing = Number(1.0, 0.0, "manifest.json.missing_values.age.nan")
    found = exported_totals([mean_of_everyone, missing],
                            totals_over_everyone(rows, [2], ["age"], ["channel"]))
    assert set(found) == {"all customers' age mean = profiles.csv:overall_mean[age]",
                          "all customers' missing age = manifest.json.missing_values.age.nan"}
    total, shown = rows["age"].sum(), rows.loc[rows["segment"] < 2, "age"].sum()
    exported = [Number(total, 1e-12, "manifest.json.age_total"),
                Number(shown, 1e-12, "manifest.json.age_total_shown"),
                Number(957.45, 0.005, "profiles.csv:mean[age,2]"),
                Number(957.45, 0.0, "profiles.csv:mean[income,2]")]
    secrets = segment_secrets(rows, [2], ["age"], ["channel"])
    assert set(recoveries(exported, secrets)) == {
        "segment 2 age sum = manifest.json.age_total - manifest.json.age_total_shown",
        "segment 2 age sum = profiles.csv:mean[age,2] + profiles.csv:mean[age,2]",
        "segment 2 age mean = profiles.csv:mean[age,2]",
        "segment 2 age median = profiles.csv:mean[age,2]"}  # two values: the median is the mean


@pytest.fixture(scope="module")
def tracked(spark, data, tmp_path_factory) -> tuple[Path, str, str]:
    """The first run of ``runs`` logged to an MLflow store (sqlite) with its report: its
    folder, the store and the MLflow run id."""
    tracking = pytest.importorskip("mlflow.tracking", reason="MLflow: the dev or mlflow extra")
    from segmentation.tracking.config import MlflowConfig
    from segmentation.tracking.runs import log_report

    root = tmp_path_factory.mktemp("tracked")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tracking.MlflowClient(uri).create_experiment("privacy",
                                                 artifact_location=(root / "art").as_uri())
    cfg = config(data, root / "run")
    cfg["tracking"] = {"mlflow": {"tracking_uri": uri, "experiment": "privacy"}}
    run_id = run_segmentation(spark, config_from_dict(cfg))["tracking"]["run_id"]
    log_report(MlflowConfig(tracking_uri=uri, experiment="privacy"), run_id,
               Path(build_report(root / "run")).parent)
    return root / "run", uri, run_id


@pytest.mark.tracking
def test_an_attacker_of_the_mlflow_run_recovers_nothing(tracked, data, tmp_path) -> None:
    """The same attack on everything logged to MLflow (parameters, every metric's history,
    artifacts) together with the run's exported files."""
    run, uri, run_id = tracked
    logged = [n for n in numbers_in_mlflow(uri, run_id, tmp_path, without_clock)
              if not clock(n.where)]
    assert any(n.where.startswith("mlflow metric") for n in logged)
    assert any("report/" in n.where for n in logged)
    assert attack(exported_numbers(run) + logged, labelled_customers(data, run), run) == []
