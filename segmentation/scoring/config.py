"""Where ``segment score`` reads the customers to score: the same choices as every job's
input (files of any format, a catalog table, a database over JDBC), from command-line
options or from the ``input`` section of a YAML file; and how it checks them: by the rules of
the run that made the model (:func:`scoring_config`).

Examples
--------
>>> scoring_input(table="crm.customers").input.table
'crm.customers'
>>> scoring_input(path="new.csv", format="csv", options=["header=true"],
...               schema="customer_id STRING, spend DOUBLE").input.options
{'header': 'true'}
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from segmentation.core.configfile import build_dataclass, read_yaml_with_overrides, required
from segmentation.core.errors import ConfigError
from segmentation.data.config import FeaturesConfig, InputConfig, SourceConfig
from segmentation.outputs.finished import FinishedRun
from segmentation.tracking.config import TrackingConfig


@dataclass(frozen=True)
class ScoringInput:
    """A scoring config file: the ``input`` to score, extra ``spark`` settings and
    ``tracking``."""

    input: SourceConfig = field(default_factory=SourceConfig)
    spark: dict[str, str] = field(default_factory=dict)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def scoring_input(
    *, path: str | None = None, format: str | None = None, options: Sequence[str] = (),
    schema: str | None = None, table: str | None = None,
    config: str | os.PathLike[str] | None = None, overrides: Sequence[str] = (),
) -> ScoringInput:
    """The input of ``segment score`` from its options (``--input``, ``--input-format``,
    ``--input-option K=V``, ``--input-schema``, ``--input-table``) or a ``--config`` file
    with an ``input`` section (``path``/``table``/``jdbc``, as in ``segment run``)."""
    given: dict = {}
    for key, value in (("path", path), ("format", format), ("schema", schema),
                       ("table", table)):
        if value is not None:
            given[key] = value
    for item in options:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--input-option {item!r} must look like KEY=VALUE")
        given.setdefault("options", {})[name] = value
    if config is not None:
        data = read_yaml_with_overrides(config, overrides)
        if given:
            raise ConfigError(f"--config {config} and --input/--input-* options are both "
                              "given: put the input in one place")
        if "input" not in data:
            raise ConfigError(f"config file {config} has no input section")
    else:
        data = {"input": given}
    return build_dataclass(ScoringInput, data, "")


@dataclass(frozen=True)
class ScoringConfig:
    """How the customers to score are read and checked, and the model's feature columns."""

    input: InputConfig = required()
    features: FeaturesConfig = required()


def scoring_config(run: FinishedRun, source: SourceConfig) -> ScoringConfig:
    """The run's resolved ``input`` and ``features`` sections, reading from ``source``.

    Where the run read its data from is replaced by ``source``; the run's id column,
    partitioning and policies stay. The other sections are left out: scoring does not use
    them, and a run written by an older version may hold keys that no longer exist there.
    """
    data = run.manifest.config
    where = {f.name for f in dataclasses.fields(SourceConfig)}
    kept = {k: v for k, v in data["input"].items() if k not in where}
    given = {k: v for k, v in dataclasses.asdict(source).items() if k in where}
    features = {**data["features"], "profile_columns": []}  # read by the run only
    return build_dataclass(ScoringConfig, {"input": {**kept, **given},
                                           "features": features}, "")
