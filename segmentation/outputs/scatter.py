"""The report's 2-D picture: a seeded sample of customers and the centroids, projected on
the sample's first two principal axes around the sample's mean (no ids). Segments below
``output.min_segment_size`` are left out of the sample, and their centroid is blank and
marked ``suppressed``; the axes and the centre of the picture come from the shown
segments' customers only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from segmentation.core.atomic import StagedOutput
from segmentation.model.assign import SegmentModel
from segmentation.model.columns import SEGMENT_COL, VALUES_COL
from segmentation.model.fit import rows_matrix
from segmentation.outputs.layout import (
    CENTROIDS_COLUMNS,
    CENTROIDS_CSV,
    SCATTER_COLUMNS,
    SCATTER_CSV,
)
from segmentation.outputs.privacy import withhold


def write_scatter(
    out: StagedOutput, final: SegmentModel, centers: np.ndarray, ids: list[int],
    sizes: list[int], *, sample_size: int, min_segment_size: int, seed: int,
) -> dict[str, Any] | None:
    """Write ``scatter.csv`` and ``centroids_2d.csv``; return the manifest's ``pca`` entry.

    The sample is drawn from the prepared rows before they are labelled, so only the sampled
    rows meet the model (the same rows as sampling the labelled rows: a sample keeps the
    same rows of the same partitions whatever is computed on them afterwards).
    ``sizes`` are the cluster sizes by cluster index of ``centers``. The axes are those of
    the sample itself, computed on the driver (a few thousand rows): as good for a picture
    as those of all rows, without a pass over the data. Nothing is written when the sample
    is off (``sample_size`` 0), there is one feature, or fewer than two rows are left.
    """
    if sample_size == 0 or centers.shape[1] < 2:
        return None
    big = [ids[i] for i, n in enumerate(sizes) if n >= min_segment_size]
    sample = final.prepared.sample(fraction=min(1.0, 1.2 * sample_size / sum(sizes)), seed=seed)
    picked: pd.DataFrame = (
        final.label(sample)
        .where(F.col(SEGMENT_COL).isin(big))
        .select(F.col(VALUES_COL).alias("x"), SEGMENT_COL)
        .limit(sample_size)
        .toPandas()
    )
    if len(picked) < 2:
        return None
    x = rows_matrix(picked["x"])
    axes, explained = principal_axes(x)
    middle = x.mean(axis=0)
    points, centres = (x - middle) @ axes, (centers - middle) @ axes
    scatter = pd.DataFrame({"pc1": points[:, 0], "pc2": points[:, 1],
                            SEGMENT_COL: picked[SEGMENT_COL].astype(int)})
    centroids = pd.DataFrame({SEGMENT_COL: ids, "pc1": centres[:, 0], "pc2": centres[:, 1]})
    centroids = withhold(centroids, ~centroids[SEGMENT_COL].isin(big), ["pc1", "pc2"])
    out.write_csv(SCATTER_CSV, scatter[SCATTER_COLUMNS])
    out.write_csv(CENTROIDS_CSV, centroids.sort_values(SEGMENT_COL)[CENTROIDS_COLUMNS])
    return {"explained_variance": [float(v) for v in explained]}


def principal_axes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal axes of the rows of ``x`` as a (d, 2) matrix, and the share
    of the total variance each explains (Spark ``PCA``'s ``explainedVariance``)."""
    _, singular, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    variance = singular**2
    total = variance.sum()
    share = variance / total if total > 0 else np.zeros_like(variance)
    return vt[:2].T, share[:2]
