"""Optional experiment tracking with MLflow (``pip install "segmentation[mlflow]"``).

Tracking is on only when a job's config has a ``tracking.mlflow`` section or the command
line gives ``--mlflow-uri``. Only :mod:`segmentation.tracking.config`,
:mod:`segmentation.tracking.reach` and :mod:`segmentation.tracking.hook` are imported
without it; every module that imports ``mlflow`` is imported only when tracking is on, so
the base install and the executors never need MLflow.
"""
