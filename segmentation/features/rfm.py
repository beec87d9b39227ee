"""Classic RFM quintile scores of the customer features (optional: ``features.rfm_scores``)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def with_rfm_scores(features: DataFrame) -> DataFrame:
    """Add classic RFM quintile scores 1..5 (``ntile(5)`` over the whole table).

    ``r_score`` 5 = most recent, ``f_score``/``m_score`` 5 = most orders/money. Ties are
    broken by customer id (the lower id gets the lower score), so scores are deterministic.
    The windows have no partition: Spark sorts the customer table in one task, which is
    fine for millions of customers but is the step to watch beyond that.
    """
    by_id = F.col("customer_id").asc()
    orders = {
        "r_score": [F.col("recency_days").desc(), by_id],
        "f_score": [F.col("frequency").asc(), by_id],
        "m_score": [F.col("monetary").asc(), by_id],
    }
    for name, order in orders.items():
        features = features.withColumn(name, F.ntile(5).over(Window.orderBy(*order)))
    return features
