"""The newest line's side of the matrix, run first with .venv: the shared inputs and the
runs every other line is compared with (the default config, the small sweep of the Spark
Connect runs, and the features job)."""

from __future__ import annotations

import pytest
from support.cli import DEFAULT_CONFIG, ROOT
from support.matrix import (
    CUSTOMERS,
    SEED,
    SMALL,
    TRANSACTION_CUSTOMERS,
    chosen_k,
    matrix_dir,
    segment_here,
)

MATRIX = matrix_dir()
pytestmark = pytest.mark.matrix


def test_the_shared_inputs() -> None:
    segment_here("generate", "--customers", str(CUSTOMERS), "--seed", str(SEED),
                 "--output", str(MATRIX / "customers"))
    segment_here("generate-transactions", "--customers", str(TRANSACTION_CUSTOMERS),
                 "--seed", str(SEED), "--output", str(MATRIX / "transactions"))


def test_the_reference_run(spark) -> None:
    out = MATRIX / "reference"
    segment_here("run", "--config", DEFAULT_CONFIG, "--set", f"input.path={MATRIX / 'customers'}",
                 "--set", f"output.path={out}")
    assert chosen_k(out) == 6  # the generator's six segments


def test_the_small_reference_run(spark) -> None:
    """The small sweep, retrained from the reference run (segment ids matched to it)."""
    segment_here("run", "--config", DEFAULT_CONFIG, "--set", f"input.path={MATRIX / 'customers'}",
                 "--set", f"output.path={MATRIX / 'reference-small'}", *SMALL,
                 "--set", f"model.previous_run={MATRIX / 'reference'}")
    assert (MATRIX / "reference-small" / "migration.csv").is_file()


def test_the_reference_features(spark) -> None:
    segment_here("features", "--config", str(ROOT / "conf" / "features-demo.yaml"),
                 "--set", f"transactions.path={MATRIX / 'transactions'}",
                 "--set", f"output.path={MATRIX / 'reference-features'}")
