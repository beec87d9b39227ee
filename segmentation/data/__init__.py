"""Data in and out: reading sources (files, catalog tables, databases over JDBC),
validating customers and dropping unusable rows, and showing a job's output as a catalog or
database table. The run directory's layout is :mod:`segmentation.outputs.layout`."""
