"""``features.profile_columns``: the segments read against attributes that were not
clustered, end to end in local mode. ``attributes.csv`` is checked against pandas and scipy
on the input joined with the private labels: counts, means, quartiles, Welch's interval of
each shown segment against the other shown ones, level shares and the chi-square test over
the shown segments. The generated churn flag separates the segments, the region does not.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support.runs import fixed_k_config

from segmentation.cli import main
from segmentation.report import build_report
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation

INPUT = 3
PROFILE = ["region", "churned", "revenue_next_q"]
MIN_SIZE = 450


def attribute_config(data: Path, out: Path, **sections) -> dict:
    cfg = fixed_k_config(data, out, 6)
    cfg["features"]["profile_columns"] = PROFILE
    cfg["output"]["min_segment_size"] = MIN_SIZE
    cfg.update(sections)
    return cfg


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(4000, seed=31)


@pytest.fixture(scope="module")
def run(spark, customers, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("attributes") / "run"
    run_segmentation(spark, config_from_dict(attribute_config(customers, out)))
    return out


def joined(run: Path, customers: Path) -> pd.DataFrame:
    labels = pd.read_parquet(run / "labels")
    return pd.read_parquet(customers).merge(labels, on="customer_id")


def shown_segments(run: Path) -> list[int]:
    segments = pd.read_csv(run / "segments.csv")
    return sorted(segments.loc[segments["size"] >= MIN_SIZE, "segment"])


def test_numeric_attributes_match_pandas_and_welchs_test(run, customers):
    data, shown = joined(run, customers), shown_segments(run)
    table = pd.read_csv(run / "attributes.csv")
    assert 2 <= len(shown) < 6  # some segments withheld, some compared
    rows = table[table["attribute"] == "revenue_next_q"].set_index("segment")
    assert sorted(rows.index) == list(range(6))
    for s in shown:
        mine, rest = (data.loc[data["segment"] == s, "revenue_next_q"],
                      data.loc[data["segment"].isin(shown) & (data["segment"] != s),
                               "revenue_next_q"])
        row = rows.loc[s]
        assert row["count"] == len(mine)
        assert row["mean"] == pytest.approx(mine.mean(), rel=1e-9)
        assert row["std"] == pytest.approx(mine.std(), rel=1e-9)
        for q in (0.25, 0.5, 0.75):  # percentile_approx: within 0.5 % of rank
            low, high = np.quantile(mine, [q - 0.005, q + 0.005])
            assert low <= row[{0.25: "q25", 0.5: "median", 0.75: "q75"}[q]] <= high
        test = stats.ttest_ind(mine, rest, equal_var=False)
        interval = test.confidence_interval(0.95)
        assert row["difference"] == pytest.approx(mine.mean() - rest.mean(), rel=1e-9)
        assert row["difference_low"] == pytest.approx(interval.low, rel=1e-6)
        assert row["difference_high"] == pytest.approx(interval.high, rel=1e-6)
        assert row["difference_p_value"] == pytest.approx(test.pvalue, rel=1e-6, abs=1e-300)
    anova = stats.f_oneway(*(data.loc[data["segment"] == s, "revenue_next_q"] for s in shown),
                           equal_var=False)
    shown_rows = rows.loc[shown]
    assert (shown_rows["test"] == "Welch ANOVA").all()
    assert shown_rows["statistic"].to_numpy() == pytest.approx([anova.statistic] * len(shown),
                                                               rel=1e-9)
    assert shown_rows["p_value"].iloc[0] == pytest.approx(anova.pvalue, rel=1e-6, abs=1e-300)
    withheld = rows.drop(index=shown)
    assert withheld["suppressed"].all()
    assert withheld[["count", "mean", "difference"]].isna().all().all()


@pytest.mark.parametrize(("column", "separates"), [("churned", True), ("region", False)])
def test_level_shares_and_the_chi_square_test_match_scipy(run, customers, column, separates):
    data, shown = joined(run, customers), shown_segments(run)
    data = data[data["segment"].isin(shown)]
    levels = data[column].astype(str).str.lower()
    table = pd.crosstab(data["segment"], levels)
    expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    rows = pd.read_csv(run / "attributes.csv", keep_default_na=False, na_values=[""])
    rows = rows[(rows["attribute"] == column) & ~rows["suppressed"]]
    assert set(rows["level"].astype(str).str.lower()) == set(table.columns)
    assert rows["statistic"].iloc[0] == pytest.approx(expected.statistic, rel=1e-9)
    assert rows["p_value"].iloc[0] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert (rows["test"] == "chi-square").all() and (rows["dof"] == expected.dof).all()
    assert (rows["p_value"].iloc[0] < 1e-6) == separates
    for row in rows.itertuples():
        level = str(row.level).lower()
        assert row.count == table.loc[row.segment, level]
        assert row.share == pytest.approx(table.loc[row.segment, level]
                                          / table.loc[row.segment].sum(), rel=1e-9)
    assert rows["flagged"].any() == separates


def test_profile_columns_from_a_second_table_give_the_same_table(spark, run, customers,
                                                                 tmp_path):
    frame = pd.read_parquet(customers)
    frame.drop(columns=PROFILE).to_parquet(tmp_path / "features.parquet")
    crm = frame[["customer_id", *PROFILE]].sample(frac=1.0, random_state=3)
    crm.to_parquet(tmp_path / "crm.parquet")
    out = tmp_path / "run"
    run_segmentation(spark, config_from_dict(attribute_config(
        tmp_path / "features.parquet", out,
        profile_input={"path": str(tmp_path / "crm.parquet")})))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "labels").sort_values("customer_id",
                                                                             ignore_index=True),
                                  pd.read_parquet(run / "labels").sort_values("customer_id",
                                                                             ignore_index=True))
    pd.testing.assert_frame_equal(pd.read_csv(out / "attributes.csv"),
                                  pd.read_csv(run / "attributes.csv"), rtol=1e-9)


@pytest.mark.parametrize(("change", "words"), [
    ({"features": {"profile_columns": ["regoin"]}}, "profile column 'regoin'"),
    ({"profile_input": "duplicated"}, "has more than one row"),
], ids=["misspelt", "repeated id"])
def test_bad_profile_columns_are_one_line(customers, tmp_path, change, words, capsys):
    import yaml

    cfg = attribute_config(customers, tmp_path / "run")
    if change.get("profile_input") == "duplicated":
        frame = pd.read_parquet(customers)[["customer_id", *PROFILE]]
        pd.concat([frame, frame.head(1)]).to_parquet(tmp_path / "crm.parquet")
        cfg["profile_input"] = {"path": str(tmp_path / "crm.parquet")}
    else:
        cfg["features"].update(change["features"])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["run", "--config", str(tmp_path / "c.yaml")]) == INPUT
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], errors


def test_the_report_reads_each_column_and_shows_no_withheld_value(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy, symlinks=False)
    page = Path(build_report(copy)).read_text()
    section = page[page.index('<section id="attributes">'):]
    section = section[:section.index("</section>")]
    rows = dict(re.findall(r"<tr><td>([^<]+)</td>.*?<td>([^<]+)</td></tr>", section))
    assert rows == {"region": "no clear difference", "churned": "separates the segments",
                    "revenue_next_q": "separates the segments"}
    assert (copy / "report" / "attribute_levels.png").is_file()
    assert (copy / "report" / "attribute_differences.png").is_file()


def test_the_report_reads_a_first_version_attributes_table(run, tmp_path):
    """attributes.csv as the first version wrote it: a numeric row's p_value was the
    segment's own, and there was no test name, dof2 or column test for numeric columns."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy, symlinks=False)
    table = pd.read_csv(copy / "attributes.csv", keep_default_na=False, na_values=[""])
    numeric = table["kind"] == "numeric"
    table["p_value"] = table["p_value"].mask(numeric, table["difference_p_value"])
    table["statistic"] = table["statistic"].mask(numeric)
    table["dof"] = table["dof"].mask(numeric)
    table.drop(columns=["difference_p_value", "test", "dof2"]).to_csv(
        copy / "attributes.csv", index=False)
    page = Path(build_report(copy)).read_text()
    section = page[page.index('<section id="attributes">'):]
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>[^<]+</td><td>([^<]+)</td>",
                      section[:section.index("</section>")])
    assert {name: (test.split(" ")[0], reading) for name, test, reading in rows} == {
        "region": ("chi-square", "no clear difference"),
        "churned": ("chi-square", "separates the segments"),
        "revenue_next_q": ("–", "not tested")}
