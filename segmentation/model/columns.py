"""Names of the columns the model adds to the customer rows, defined once.

``features`` is the vector KMeans sees, ``cluster`` the KMeans cluster index, ``segment``
the segment id users see (stable across retrains) and ``distance`` the Euclidean distance
of a customer to its segment's centre in the space KMeans saw. ``labels/``, the saved
model's output and the CSVs of a run use the same names.
"""

FEATURES_COL = "features"
CLUSTER_COL = "cluster"
SEGMENT_COL = "segment"
DISTANCE_COL = "distance"
