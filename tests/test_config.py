"""Config loading: defaults, overrides, and one clear error per mistake, naming the key."""

from __future__ import annotations

import pytest

from segmentation.core.errors import ConfigError
from segmentation.run.config import config_from_dict, load_config


def base(**sections) -> dict:
    data = {
        "input": {"path": "data/in"},
        "features": {"numeric": ["a", "b"]},
        "output": {"path": "runs/out"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def test_defaults_are_filled_in():
    cfg = config_from_dict(base())
    assert (cfg.model.k_min, cfg.model.k_max, cfg.model.restarts) == (2, 10, 20)
    assert cfg.features.missing == "impute" and cfg.features.scale is True
    assert cfg.output.mode == "error" and cfg.evaluation.sample_size == 10_000


def test_yaml_file_and_dotted_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("input: {path: in}\nfeatures: {numeric: [x]}\noutput: {path: out}\n")
    cfg = load_config(path, ["model.k_max=5", "features.log1p=[x]", "spark.spark.foo=1"])
    assert cfg.model.k_max == 5 and cfg.features.log1p == ["x"]
    assert cfg.spark == {"spark.foo": "1"}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (base(model={"k_mni": 3}), "unknown key model.k_mni; did you mean model.k_min?"),
        (base(model={"k_max": "ten"}), "model.k_max must be an integer, not str 'ten'"),
        (base(model={"k_min": 6, "k_max": 4}), "model.k_min=6 must be <= model.k_max=4"),
        (base(model={"k_min": 1}), "model.k_min=1 must be >= 2"),
        ({"input": {"path": "x"}, "features": {"numeric": ["a"]}}, "missing required key output"),
        (base(input={"id_column": "id"}) | {"input": {}},
         "give exactly one of input.path, input.table and input.jdbc (given: none)"),
        (base(input={"table": "crm.customers"}),
         "give exactly one of input.path, input.table and input.jdbc (given: input.path and "
         "input.table)"),
        (base(input={"format": "csv"}), "input.format is csv but input.schema is not set"),
        (base(input={"format": "jdbc"}), "input.format jdbc: use input.jdbc"),
        (base(input={"options": "header"}), "input.options must be a mapping"),
        (base() | {"input": {"table": "t", "schema": "a INT"}},
         "input.schema applies to input.path only, not to input.table"),
        (base() | {"input": {"jdbc": {"url": "jdbc:postgresql://h/db"}}},
         "give exactly one of input.jdbc.table and input.jdbc.query"),
        (base() | {"input": {"jdbc": {"url": "postgresql://h/db", "table": "t"}}},
         "input.jdbc.url must start with jdbc:"),
        (base() | {"input": {"jdbc": {"url": "jdbc:postgresql://h/db", "table": "t",
                                      "partition_column": "id", "lower_bound": 0}}},
         "input.jdbc.partition_column is set but input.jdbc.upper_bound, "
         "input.jdbc.num_partitions not"),
        (base() | {"input": {"jdbc": {"url": "jdbc:postgresql://h/db", "query": "SELECT 1",
                                      "partition_column": "id", "lower_bound": 0,
                                      "upper_bound": 9, "num_partitions": 2}}},
         "input.jdbc.partition_column cannot be used with input.jdbc.query"),
        (base() | {"input": {"jdbc": {"url": "jdbc:postgresql://h/db", "table": "t",
                                      "lower_bound": 0}}},
         "input.jdbc.lower_bound is set but input.jdbc.partition_column is not"),
        (base(output={"jdbc": {"url": "jdbc:mysql://h/db", "table": "t"}}),
         "output.jdbc.url: labels are written back to PostgreSQL only"),
        (base(output={"jdbc": {"url": "jdbc:postgresql://h/db", "query": "SELECT 1"}}),
         "output.jdbc.table is required"),
        (base(output={"jdbc": {"url": "jdbc:postgresql://h/db", "table": "t",
                               "partition_column": "id", "lower_bound": 0, "upper_bound": 9,
                               "num_partitions": 2}}),
         "output.jdbc.partition_column applies to reading only"),
        (base() | {"input": {"jdbc": {"url": "jdbc:postgresql://h/db?password=x",
                                      "table": "t"}}},
         "put it in an environment variable and name that variable in input.jdbc.password_env"),
        (base(output={"path": "data/in"}), "is the same path as input.path"),
        (base(output={"path": "data/in/out"}), "lies inside input.path"),
        (base(features={"missing": "zero"}), "features.missing must be one of impute, drop, fail"),
        (base(features={"log1p": ["c"]}), "features.log1p names 'c', which is not in"),
        (base(model={"k": 4}), "set model.select_by: fixed"),
        (base(model={"select_by": "fixed"}), "model.select_by is fixed but model.k is not set"),
        (base(features={"numeric": "a"}), "features.numeric must be a list, not str 'a'"),
        (base(features={"scale": "yes"}), "features.scale must be true or false"),
        (base(model={"restarts": 0}), "model.restarts=0 must be >= 1"),
    ],
)
def test_config_errors_name_the_key(data, fragment):
    with pytest.raises(ConfigError, match=None) as err:
        config_from_dict(data)
    assert fragment in str(err.value)


def test_unreadable_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("input:\n  path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML at line"):
        load_config(path)


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("input: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_sources_other_than_parquet_paths():
    cfg = config_from_dict(base() | {"input": {"jdbc": {
        "url": "jdbc:postgresql://127.0.0.1:5432/crm", "table": "public.customers",
        "password_env": "PGPASSWORD", "partition_column": "signup", "lower_bound": "2020-01-01",
        "upper_bound": "2024-12-31", "num_partitions": 4}}})
    assert cfg.input.jdbc is not None and cfg.input.jdbc.lower_bound == "2020-01-01"
    assert cfg.input.path is None and cfg.input.id_column == "customer_id"
    cfg = config_from_dict(base(input={"format": "csv", "options": {"header": True},
                                       "schema": "customer_id STRING, a DOUBLE"}))
    assert cfg.input.options == {"header": "true"}
    assert config_from_dict(base() | {"input": {"table": "db.t"}}).input.table == "db.t"
