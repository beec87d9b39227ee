"""The features job (``segment features``): raw transactions -> one row per customer.

Pure ``DataFrame -> DataFrame`` transforms that chain::

    standard_lines(raw, tx)                   # lines: mapped columns, time in UTC microseconds
      .transform(classify_lines(as_of=..., cancellation_prefix=...))   # lines: reason / kind
      .transform(customer_summary)            # customers: invoice level, then customer level
      .transform(customer_features(as_of=...))                  # one row per buying customer
      .transform(with_rfm_scores)             # rfm: optional quintile scores (window functions)

Time is carried as ``ts_us``, microseconds since 1970-01-01 UTC
(:mod:`segmentation.features.timestamps`), so that whole days, calendar months and the
default ``as_of`` never depend on the session time zone. :mod:`segmentation.features.job`
composes them with the read, the validation and the write. The definitions are documented
in ``docs/features.md``.
"""
