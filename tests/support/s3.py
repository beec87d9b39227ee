"""The tests' S3-compatible server: moto's standalone server on loopback (scripts/s3.sh).

``scripts/s3.sh start`` creates a user with a random access key and from then on checks
every request's signature, so a wrong key is refused as a real store would. The keys reach
a ``segment`` process only through its environment (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, which S3A's default credential chain and pyarrow read), never a
config file; the endpoint and path-style access go in the config's ``spark:`` section.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import daemons

#: The region the S3A settings name (Hadoop 3.4+'s AWS SDK v2 wants one for an endpoint).
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint URL, its state folder and the test user's keys."""

    url: str
    state: Path
    keys: dict[str, str]
    #: False when started with --any-key (Spark 3.5's hadoop-aws 3.3.4: see scripts/s3.sh)
    checks_keys: bool = True

    def spark_settings(self, endpoint: str | None = None) -> dict[str, str]:
        """The config's ``spark:`` entries that reach this server (or ``endpoint``)."""
        return {"spark.hadoop.fs.s3a.endpoint": endpoint or self.url,
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
                "spark.hadoop.fs.s3a.endpoint.region": REGION}

    def client(self) -> Any:
        """An independent boto3 S3 client of this server (not the code under test)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=self.keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.keys["AWS_SECRET_ACCESS_KEY"])

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name``; returns ``s3a://name``."""
        self.client().create_bucket(Bucket=name)
        return f"s3a://{name}"

    def upload(self, folder: Path, uri: str) -> None:
        """Upload the files of a local ``folder`` under ``s3a://BUCKET/KEY``."""
        bucket, _, prefix = uri.removeprefix("s3a://").partition("/")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.client().upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder)}")

    def objects(self, uri: str) -> dict[str, bytes]:
        """Every object under ``s3a://BUCKET/KEY``: key (relative to it) -> bytes."""
        bucket, _, prefix = uri.removeprefix("s3a://").partition("/")
        folder = f"{prefix.strip('/')}/".lstrip("/")  # "" for the whole bucket
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                     Prefix=folder):
            for item in page.get("Contents", []):
                if item["Key"] != folder:  # not the folder's own marker
                    body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    found[item["Key"][len(folder):]] = body
        return found

    def download(self, uri: str, folder: Path) -> Path:
        """Every object under ``s3a://BUCKET/KEY`` as files under the local ``folder``
        (folder markers, keys ending in ``/`` as Hadoop 3.3 writes them, as folders)."""
        for key, body in self.objects(uri).items():
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            if not key.endswith("/"):
                (folder / key).write_bytes(body)
        return folder


def start_s3(state: Path, *, checks_keys: bool = True) -> S3Server:
    """``scripts/s3.sh start`` with its state in ``state`` (``--any-key`` unless
    ``checks_keys``)."""
    server = daemons.start("s3.sh", state, *([] if checks_keys else ["--any-key"]),
                           timeout=120)
    assert server.url.startswith("http://127.0.0.1:"), server.url
    keys = json.loads((state / "credentials").read_text())
    return S3Server(server.url, state, keys, checks_keys)


def stop_s3(state: Path) -> None:
    daemons.stop("s3.sh", state, timeout=60)
