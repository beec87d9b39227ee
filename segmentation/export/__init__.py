"""A finished run's model outside Spark: the numbers it applies (:mod:`.spec`), the same
assignment as one SQL query (:mod:`.sql`) or a PMML document (:mod:`.pmml`), and the
commands that write them (:mod:`.job`)."""
