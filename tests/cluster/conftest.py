"""A real 2-worker Spark standalone cluster on loopback for each test module of this folder.

The cluster (and the submit build: the segmentation zip and the executor Python) lives in
the module's temporary directories; the finalizer stops the cluster whatever happens.
"""

from __future__ import annotations

import pytest
from support.cluster import Cluster, start_cluster, stop_cluster

WORKERS = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> Cluster:
    base = tmp_path_factory.mktemp("cluster")
    state, build = base / "state", base / "build"
    # Registered before starting: a start that fails half-way is cleaned up too.
    request.addfinalizer(lambda: stop_cluster(state))
    return start_cluster(state, build, WORKERS)
