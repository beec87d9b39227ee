"""Shared infrastructure of every job: config files, errors, the Spark session, atomic
outputs on any file system, and what a run records about itself (timings, versions)."""
