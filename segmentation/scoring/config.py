"""Where ``segment score`` reads the customers to score: the same choices as every job's
input (files of any format, a catalog table, a database over JDBC), from command-line
options or from the ``input`` section of a YAML file.

Examples
--------
>>> scoring_input(table="crm.customers").input.table
'crm.customers'
>>> scoring_input(path="new.csv", format="csv", options=["header=true"],
...               schema="customer_id STRING, spend DOUBLE").input.options
{'header': 'true'}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from segmentation.config import SourceConfig, validate_source
from segmentation.core.configfile import build_dataclass, read_yaml_with_overrides
from segmentation.core.errors import ConfigError
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
    result = build_dataclass(ScoringInput, data, "")
    validate_source(result.input, "input")
    return result
