"""From usable rows to a segmentation model: feature preparation, the k sweep, quality
metrics, the choice of k and segment ids. Column names and metric semantics live here."""
