"""Connectors per Spark line (segmentation.core.connectors), what the set-up fetched for this
line, and ``segment sql`` on this line; the Delta Lake and Iceberg tables themselves are
tested in tests/lakehouse on a line that has both."""

from __future__ import annotations

import re
from pathlib import Path

import pyspark
import pytest
from support.cli import error_lines, segment

from segmentation.core import connectors
from segmentation.core.connectors import (
    CONNECTORS,
    coordinate,
    jar_list,
    launch_arguments,
    needed,
    running_line,
    session_settings,
)
from segmentation.core.errors import ConfigError

LINE = running_line()
#: Spark's Hadoop on this line, from the jar pyspark ships (hadoop-aws must match it).
HADOOP = next(re.search(r"hadoop-client-api-(.+)\.jar", p.name)[1]  # type: ignore[index]
              for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*"))


def test_hadoop_aws_matches_the_hadoop_of_this_line() -> None:
    assert coordinate("s3a", LINE) == f"org.apache.hadoop:hadoop-aws:{HADOOP}"


def test_table_connectors_are_built_for_their_line() -> None:
    for line, coord in [*CONNECTORS["delta"].releases.items(),
                        *CONNECTORS["iceberg"].releases.items()]:
        scala = "2.12" if line == "3.5" else "2.13"  # Spark 3.5's pip build is Scala 2.12
        artifact = coord.split(":")[1]
        assert artifact.endswith(f"_{scala}"), coord
        assert line in artifact or artifact == "delta-spark_2.12", coord


def test_a_line_without_a_release_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"Apache Iceberg has no release for Spark 9\.9 "
                                          r"\(it has for Spark 3\.5, 4\.0, 4\.1\)"):
        coordinate("iceberg", "9.9")


def test_needed_follows_formats_and_paths() -> None:
    assert needed(formats=["parquet", None, "ICEBERG"], paths=[None, "/x", "s3a://b/k"]) == (
        "iceberg", "s3a")
    assert needed(formats=["csv"], paths=["s3://b/k", "hdfs://nn/x"]) == ()


def test_the_set_up_listed_this_lines_jars_without_sparks_own() -> None:
    shipped = {re.sub(r"-\d[^/]*\.jar$", "", p.name)
               for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    listing = jar_list("s3a", LINE)
    jars = listing.read_text().split()
    assert any(Path(j).name == f"hadoop-aws-{HADOOP}.jar" for j in jars), jars
    assert all(Path(j).is_file() for j in jars)
    assert not {re.sub(r"-\d[^/]*\.jar$", "", Path(j).name) for j in jars} & shipped


def test_user_settings_win_and_extensions_are_joined(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(connectors.CACHE_ENV, str(tmp_path))
    jar = tmp_path / "delta.jar"
    jar.write_bytes(b"")
    jar_list("delta", "4.1").parent.mkdir(parents=True)
    jar_list("delta", "4.1").write_text(f"{jar}\n")
    given = {"spark.sql.extensions": "my.Extension", "spark.jars": "/opt/a.jar",
             "spark.sql.catalog.spark_catalog": "my.Catalog"}
    settings = session_settings(["delta"], "4.1", given)
    assert settings == {"spark.jars": f"/opt/a.jar,{jar}",
                        "spark.sql.extensions": "my.Extension,io.delta.sql."
                                                "DeltaSparkSessionExtension",
                        "spark.databricks.delta.snapshotPartitions": "8"}
    by_packages = session_settings(
        ["delta"], "4.1", {"spark.jars.packages": "io.delta:delta-spark_4.1_2.13:4.4.0"})
    assert "spark.jars" not in by_packages  # Spark resolves the user's coordinate itself
    assert launch_arguments(["delta"], "4.1")[:2] == ["--conf", "spark.sql.catalog."
                                                      "spark_catalog=org.apache.spark.sql."
                                                      "delta.catalog.DeltaCatalog"]


def test_connectors_not_fetched_name_the_fix(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(connectors.CACHE_ENV, str(tmp_path))
    with pytest.raises(ConfigError, match=r"the hadoop-aws \(s3a://\) connector for Spark "
                       rf"{LINE} is not fetched here: run scripts/setup.sh --connectors \(or "
                       rf"set spark.jars.packages: {coordinate('s3a', LINE)}\)"):
        session_settings(["s3a"], LINE, {})


@pytest.mark.slow
def test_segment_sql_prints_rows_and_refuses_in_one_line(tmp_path: Path) -> None:
    done = segment(["sql", "SELECT 6 * 7 AS answer", "SELECT id FROM range(2)"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["answer", "42", "id", "0", "1"]
    bad = segment(["sql", "SELECT 1", "SELECT nope FROM range(1)", "SELECT 2"], cwd=tmp_path)
    assert bad.returncode == 3
    assert error_lines(bad.stderr) == [error_lines(bad.stderr)[0]]
    assert error_lines(bad.stderr)[0].startswith("error: SQL statement 2 failed: "
                                                 "AnalysisException: [UNRESOLVED_COLUMN")
    assert "Traceback" not in bad.stderr and '"exception"' not in bad.stderr
    assert bad.stdout.split() == ["1", "1"]  # the first ran, the third did not


@pytest.mark.slow
@pytest.mark.skipif(LINE in CONNECTORS["delta"].releases, reason="this line has Delta Lake")
def test_a_table_format_on_a_line_without_its_connector_is_one_line(tmp_path: Path) -> None:
    done = segment(["sql", "--connectors", "delta", "SELECT 1"], cwd=tmp_path)
    assert done.returncode == 2
    assert error_lines(done.stderr) == [
        f"error: Delta Lake has no release for Spark {LINE} (it has for Spark 3.5, 4.0, 4.1, "
        "4.2): run on one of those lines (scripts/setup.sh --spark X.Y)"]
    bad = segment(["sql", "--connectors", "delta,hudi", "SELECT 1"], cwd=tmp_path)
    assert (bad.returncode, error_lines(bad.stderr)) == (
        2, ["error: unknown connector 'hudi' (known: delta, iceberg, s3a)"])
