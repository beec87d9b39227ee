"""Scoring new customers with a finished run: exact reproduction, drift, clean failures."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from support.runs import fixed_k_config, write_parquet

from segmentation.core.errors import ConfigError, InputDataError, OutputError
from segmentation.outputs.layout import SCORED_SEGMENTS_COLUMNS
from segmentation.run.config import config_from_dict
from segmentation.run.job import run_segmentation
from segmentation.scoring.job import score_customers


@pytest.fixture(scope="module")
def customers(make_customers) -> Path:
    return make_customers(2000, seed=31)


@pytest.fixture(scope="module")
def model_run(spark, customers, tmp_path_factory) -> Path:
    """A k=6 run that drops rows with missing values and repeated ids."""
    out = tmp_path_factory.mktemp("model") / "run"
    cfg = fixed_k_config(customers, out, 6)
    cfg["features"]["missing"] = "drop"
    cfg["input"]["duplicate_ids"] = "drop"
    run_segmentation(spark, config_from_dict(cfg))
    return out


def labels(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path / "labels").sort_values("customer_id", ignore_index=True)


def test_scoring_the_training_input_reproduces_its_labels(
    spark, customers, model_run, tmp_path
) -> None:
    manifest = score_customers(spark, model_run=str(model_run), input_path=str(customers),
                               output_path=str(tmp_path / "scored"))
    pd.testing.assert_frame_equal(labels(tmp_path / "scored"), labels(model_run),
                                  check_exact=True)
    run = json.loads((model_run / "manifest.json").read_text())
    written = json.loads((tmp_path / "scored" / "manifest.json").read_text())
    assert written == json.loads(json.dumps(manifest))
    assert written["rows_read"] == 2000 == written["rows_scored"] + sum(
        written["rows_dropped"].values())
    assert written["rows_dropped"] == run["rows_dropped"] and run["rows_dropped"]
    assert written["model_run"] == str(model_run) and written["chosen_k"] == 6
    # ~1% of the training customers lie beyond their segment's 99th percentile
    assert 0.0 < written["drift_share"] <= 0.02
    assert set(written["drift_share_by_segment"]) == {str(s) for s in range(6)}
    scored = pd.read_csv(tmp_path / "scored" / "segments.csv")
    trained = pd.read_csv(model_run / "segments.csv")
    assert list(scored.columns) == SCORED_SEGMENTS_COLUMNS
    assert not scored["suppressed"].any()  # every segment has at least 50 customers
    assert (scored["size"] == trained["size"]).all()
    assert (scored["description"] == trained["description"]).all()
    assert (tmp_path / "scored" / "_SUCCESS").exists()


def test_new_customers_far_from_the_model_show_as_drift(
    spark, make_customers, model_run, tmp_path, caplog
) -> None:
    frame = pd.read_parquet(make_customers(1000, seed=99))
    frame = frame.assign(campaign="spring")  # a column the model ignores
    frame.loc[:99, "spend_12m"] *= 50.0  # 100 customers unlike anyone in training
    frame.loc[100:109, "channel"] = "kiosk"  # a level the model never saw
    frame = pd.concat([frame, frame.iloc[200:205]])  # 5 repeated ids: dropped (run policy)
    data = write_parquet(frame, tmp_path / "data", files=2)

    with caplog.at_level(logging.INFO, logger="segmentation"):
        manifest = score_customers(spark, model_run=str(model_run), input_path=str(data),
                                   output_path=str(tmp_path / "scored"))
    assert ("ignoring 5 input columns the model does not use: region, true_segment, "
            "churned, revenue_next_q, campaign") in caplog.text
    assert manifest["rows_read"] == 1005
    assert manifest["rows_dropped"]["duplicate_id"] == 10
    assert manifest["rows_read"] == manifest["rows_scored"] + sum(
        manifest["rows_dropped"].values())
    assert manifest["drift_share"] >= 0.09
    scored = labels(tmp_path / "scored")
    assert len(scored) == manifest["rows_scored"]
    assert set(scored.segment) <= set(range(6))


@pytest.fixture
def existing_output(tmp_path) -> Path:
    out = tmp_path / "scored"
    out.mkdir()
    (out / "keep.txt").write_text("previous outputs")
    return out


def assert_untouched(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


def test_missing_column_fails_naming_it_and_leaves_the_output_alone(
    spark, customers, model_run, existing_output, tmp_path
) -> None:
    frame = pd.read_parquet(customers).drop(columns=["spend_12m"])
    data = write_parquet(frame, tmp_path / "data", files=1)
    with pytest.raises(InputDataError, match=r"feature column 'spend_12m' \(features.numeric\) "
                                             r"not found in .*; present columns: customer_id"):
        score_customers(spark, model_run=str(model_run), input_path=str(data),
                        output_path=str(existing_output), mode="overwrite")
    assert_untouched(existing_output)


def test_mistyped_column_fails(spark, customers, model_run, tmp_path) -> None:
    frame = pd.read_parquet(customers).astype({"age": str})
    data = write_parquet(frame, tmp_path / "data", files=1)
    with pytest.raises(InputDataError, match=r"'age' \(features.numeric\) has type string"):
        score_customers(spark, model_run=str(model_run), input_path=str(data),
                        output_path=str(tmp_path / "scored"))


def test_a_directory_that_is_not_a_finished_run_fails(
    spark, customers, model_run, existing_output, tmp_path
) -> None:
    half = tmp_path / "half"
    half.mkdir()
    (half / "model").mkdir()
    with pytest.raises(InputDataError, match=r"--model .*half is not a finished segmentation "
                                             r"run: missing _SUCCESS, manifest.json"):
        score_customers(spark, model_run=str(half), input_path=str(customers),
                        output_path=str(existing_output), mode="overwrite")
    assert_untouched(existing_output)
    with pytest.raises(InputDataError, match=r"--model .*nowhere does not exist"):
        score_customers(spark, model_run=str(tmp_path / "nowhere"),
                        input_path=str(customers), output_path=str(existing_output),
                        mode="overwrite")


def test_output_inside_the_model_run_is_refused(spark, customers, model_run) -> None:
    with pytest.raises(ConfigError, match=r"--output .* lies inside --model"):
        score_customers(spark, model_run=str(model_run), input_path=str(customers),
                        output_path=str(model_run / "scored"))


def test_an_existing_output_is_kept_and_the_message_names_the_option(
    spark, customers, model_run, existing_output
) -> None:
    with pytest.raises(OutputError, match=r"^--output .* already exists "
                                          r"\(pass --mode overwrite to replace it\)$"):
        score_customers(spark, model_run=str(model_run), input_path=str(customers),
                        output_path=str(existing_output))
    assert_untouched(existing_output)
