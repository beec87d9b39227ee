"""The model saved beside the other outputs (``segmentation.outputs.write.saved_beside``):
the block runs while it saves, the saved model loads, and a save that fails fails the
block's caller instead of passing unnoticed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.feature import SQLTransformer

from segmentation.outputs.write import saved_beside


def test_the_block_runs_and_the_model_loads(spark, tmp_path: Path) -> None:
    model = PipelineModel(stages=[SQLTransformer(statement="SELECT *, 2 * x AS y FROM __THIS__")])
    ran = []
    with saved_beside(spark, model, str(tmp_path / "model")):
        ran.append(spark.range(3).count())
    assert ran == [3]
    loaded = PipelineModel.load(str(tmp_path / "model"))
    rows = loaded.transform(spark.createDataFrame([(1.0,), (4.0,)], "x double")).collect()
    assert [r.y for r in rows] == [2.0, 8.0]


def test_a_failed_save_is_raised_after_the_block(spark, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    model = PipelineModel(stages=[SQLTransformer(statement="SELECT * FROM __THIS__")])
    ran = []
    with pytest.raises(Exception, match="a-file"):
        with saved_beside(spark, model, str(tmp_path / "a-file" / "model")):
            ran.append(True)
    assert ran == [True]
