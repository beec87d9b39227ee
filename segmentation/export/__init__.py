"""A finished run's model outside Spark: the numbers it applies (:mod:`.spec`) and the same
assignment as one SQL query (:mod:`.sql`)."""
