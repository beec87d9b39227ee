"""The ``output`` section of ``segment run``: where the run is written, the database table
its labels go back to, and what of small segments may be exported."""

from __future__ import annotations

from dataclasses import dataclass

from segmentation.core.configfile import NON_NEGATIVE, checked
from segmentation.data.config import JdbcConfig, OutputTarget, validate_jdbc_target


@dataclass(frozen=True)
class OutputConfig(OutputTarget):
    """Where and how the run's outputs are written."""

    #: A database table the labels are written back to (PostgreSQL): through a staging
    #: table whose rows replace the table's in one transaction.
    jdbc: JdbcConfig | None = None
    #: Rows in the PCA scatter sample for the report (0 turns the sample off).
    pca_sample_size: int = checked(2000, NON_NEGATIVE)
    #: Privacy threshold: of a smaller segment only its size is exported (every statistic
    #: withheld, no scatter points, no centroid; overall statistics over the other segments).
    min_segment_size: int = checked(50, NON_NEGATIVE)

    def validate(self, key: str) -> None:
        super().validate(key)
        if self.jdbc is not None:
            validate_jdbc_target(self.jdbc, f"{key}.jdbc")
