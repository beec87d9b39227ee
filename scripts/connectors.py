"""Fetch the connectors of this interpreter's Spark line (Delta Lake, Apache Iceberg,
hadoop-aws) from Maven Central into Maven's cache, and list each one's jars for the jobs.

    .venv-spark4.1/bin/python scripts/connectors.py [NAME ...]     default: every connector
                                                                  the line has a release of

Run by ``scripts/setup.sh --connectors`` (and ``dev``) with the environment's own Python:
the line comes from its pyspark, the coordinates from ``segmentation.core.connectors``. Maven
resolves each connector with its dependencies; jars the pyspark already ships (Hadoop's
client, Jackson, Parquet, Scala, ...) are left out so that Spark's own versions are the only
ones loaded. The lists go to ``segmentation.core.connectors.jar_list`` (no jar is copied).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pyspark

from segmentation.core.connectors import CONNECTORS, coordinate, jar_list, running_line

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>segmentation</groupId><artifactId>connector</artifactId><version>1</version>
<packaging>pom</packaging><dependencies><dependency><groupId>{0}</groupId>
<artifactId>{1}</artifactId><version>{2}</version></dependency></dependencies></project>
"""


def artifact_of(jar: str) -> str:
    """The artifact name of a jar file name (``jackson-core-2.15.2.jar`` -> ``jackson-core``)."""
    return re.sub(r"-\d[^/]*\.jar$", "", Path(jar).name)


def spark_artifacts() -> set[str]:
    """The artifacts this pyspark ships in its ``jars/`` folder."""
    return {artifact_of(jar.name) for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}


def resolve(coord: str) -> list[str]:
    """The jars of ``coord`` and its runtime dependencies, fetched into Maven's cache."""
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "pom.xml").write_text(POM.format(*coord.split(":")))
        out = Path(work) / "classpath.txt"
        done = subprocess.run(
            ["mvn", "-q", "-B", "dependency:build-classpath", "-DincludeScope=runtime",
             f"-Dmdep.outputFile={out}"], cwd=work, capture_output=True, text=True)
        if done.returncode != 0 or not out.is_file():
            sys.exit(f"error: Maven could not fetch {coord}:\n{done.stdout[-3000:]}")
        return [jar for jar in out.read_text().strip().split(":") if jar]


def main(argv: list[str]) -> int:
    line = running_line(pyspark.__version__)
    names = argv or [n for n, c in CONNECTORS.items() if line in c.releases]
    unknown = sorted(set(names) - set(CONNECTORS))
    if unknown:
        print(f"error: unknown connector {unknown[0]} (known: {', '.join(CONNECTORS)})",
              file=sys.stderr)
        return 2
    shipped = spark_artifacts()
    for name in names:
        coord = coordinate(name, line)
        jars = [jar for jar in resolve(coord) if artifact_of(jar) not in shipped]
        listing = jar_list(name, line)
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text("\n".join(jars) + "\n")
        print(f"Spark {line}: {name} {coord} ({len(jars)} jars) -> {listing}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
