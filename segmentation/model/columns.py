"""Names of the columns the model adds to the customer rows, defined once.

``features`` is the vector KMeans sees, ``feature_values`` the same entries as an array of
doubles (what the passes over all rows read), ``cluster`` the KMeans cluster index, ``segment``
the segment id users see (stable across retrains) and ``distance`` the Euclidean distance
of a customer to its segment's centre in the space KMeans saw. ``labels/``, the saved
model's output and the CSVs of a run use the same names.
"""

FEATURES_COL = "features"
VALUES_COL = "feature_values"
CLUSTER_COL = "cluster"
SEGMENT_COL = "segment"
DISTANCE_COL = "distance"
