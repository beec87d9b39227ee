"""A real PostgreSQL server for the database tests, started with scripts/postgres.sh (from
Debian's ``postgresql`` package) on loopback and stopped by its pid at the end.

Its state lives in a fresh directory under /tmp (the server runs as the ``postgres`` user,
which cannot enter pytest's root-only temporary directories). Tables are created and
filled with ``psql`` and Spark's JDBC writer; the tests read them through the product.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import daemons
import pandas as pd
from pyspark.sql import DataFrame

#: The PostgreSQL type of each Spark type the tests' tables have.
PG_TYPES = {"bigint": "bigint", "int": "integer", "double": "double precision",
            "string": "text", "decimal(12,2)": "numeric(12,2)", "boolean": "boolean"}
#: Debian's libpostgresql-jdbc-java.
JDBC_JAR = Path("/usr/share/java/postgresql.jar")
#: The environment variable the tests' configs name in ``jdbc.password_env``.
PASSWORD_ENV = "SEGMENT_TEST_PG_PASSWORD"


def missing_parts() -> str | None:
    """Why the database tests cannot run here (None when they can)."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "no PostgreSQL server (apt-get install postgresql)"
    if not JDBC_JAR.is_file():
        return f"no JDBC driver at {JDBC_JAR} (apt-get install libpostgresql-jdbc-java)"
    if not shutil.which("psql"):
        return "no psql client"
    return None


@dataclass(frozen=True)
class Postgres:
    """A running throwaway server: its JDBC URL, user and password."""

    url: str
    port: int
    password: str
    state: Path
    user: str = "segment"

    def jdbc(self, **keys: object) -> dict[str, object]:
        """An ``input.jdbc`` section for this server (password through PASSWORD_ENV)."""
        return {"url": self.url, "user": self.user, "password_env": PASSWORD_ENV, **keys}

    @property
    def psql_url(self) -> str:
        """The database for psql's command line (the password in :meth:`client_env`)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/segment"

    def client_env(self) -> dict[str, str]:
        """The environment of a client process: this one's, and the password for psql."""
        return {**os.environ, "PGPASSWORD": self.password}

    def psql(self, sql: str, *options: str) -> str:
        """Run SQL with psql; return its unaligned output (or, with ``--csv``, CSV)."""
        done = subprocess.run(
            ["psql", "-X", "-q", *(options or ("-A", "-t")), "-v", "ON_ERROR_STOP=1",
             self.psql_url, "-c", sql],
            env=self.client_env(), capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def frame(self, query: str) -> pd.DataFrame:
        """The rows of ``query``, as psql prints them (doubles with every digit)."""
        return pd.read_csv(io.StringIO(self.psql(query, "--csv")))

    def load(self, frame: DataFrame, name: str) -> None:
        """Create ``name`` with PostgreSQL types matching ``frame`` and fill it over JDBC."""
        columns = ", ".join(f'"{f.name}" {PG_TYPES[f.dataType.simpleString()]}'  # case kept
                            for f in frame.schema.fields)
        self.psql(f"DROP TABLE IF EXISTS {name} CASCADE; CREATE TABLE {name} ({columns})")
        (frame.write.format("jdbc").options(**self.spark_options(), dbtable=name,
                                            batchsize="10000").mode("append").save())

    def spark_options(self) -> dict[str, str]:
        """Options of Spark's JDBC writer for this server (tests load data with it)."""
        return {"url": self.url, "user": self.user, "password": self.password,
                "driver": "org.postgresql.Driver"}


def start_postgres(state: Path) -> Postgres:
    url = daemons.start("postgres.sh", state, timeout=120).url
    return Postgres(url=url, port=int((state / "port").read_text()),
                    password=(state / "password").read_text().strip(), state=state)


def stop_postgres(state: Path) -> None:
    daemons.stop("postgres.sh", state, timeout=60)
