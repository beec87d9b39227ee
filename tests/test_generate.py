"""`segment generate` and `generate-transactions` write their output whole: a non-empty
output is refused unless --overwrite, which replaces it (no part file of an earlier, larger
table survives)."""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow.parquet as pq

import segmentation.synthetic.customers as customers_module
import segmentation.synthetic.transactions as transactions_module
from segmentation.cli import main

OUTPUT_ERROR = 4


def rows(path: Path) -> int:
    return pq.read_table(path).num_rows


def test_non_empty_output_is_refused_without_overwrite(tmp_path, capsys):
    out = tmp_path / "customers"
    out.mkdir()
    (out / "part-00000.parquet").write_bytes(b"an earlier table")
    for command in ("generate", "generate-transactions"):
        code = main([command, "--customers", "10", "--output", str(out)])
        assert code == OUTPUT_ERROR
        err = capsys.readouterr().err
        assert err.strip() == f"error: --output {out} is not empty (pass --overwrite to replace it)"
    assert (out / "part-00000.parquet").read_bytes() == b"an earlier table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers"]


def test_missing_or_empty_output_is_written(tmp_path):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "customers"):
        assert main(["generate", "--customers", "50", "--output", str(out)]) == 0
        assert rows(out) == 50


def test_overwrite_replaces_a_larger_customer_table(tmp_path, monkeypatch):
    original = customers_module.generate_customers
    monkeypatch.setattr(customers_module, "generate_customers",
                        functools.partial(original, rows_per_file=1000))  # several files
    out = tmp_path / "customers"
    assert main(["generate", "--customers", "2500", "--output", str(out)]) == 0
    assert len(list(out.glob("part-*.parquet"))) == 3
    assert main(["generate", "--customers", "900", "--output", str(out), "--overwrite"]) == 0
    assert rows(out) == 900
    assert len(list(out.glob("part-*.parquet"))) == 1
    hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(hidden) == 1 and hidden[0].startswith(".customers.run-")  # the current table


def test_overwrite_replaces_larger_transactions(tmp_path, monkeypatch):
    original = transactions_module.generate_transactions
    monkeypatch.setattr(transactions_module, "generate_transactions",
                        functools.partial(original, customers_per_file=100))
    out = tmp_path / "transactions"
    assert main(["generate-transactions", "--customers", "350", "--output", str(out)]) == 0
    assert len(list(out.glob("part-*.parquet"))) == 4
    assert main(["generate-transactions", "--customers", "120", "--output", str(out),
                 "--overwrite"]) == 0
    expected = original(120, tmp_path / "fresh", seed=0, customers_per_file=100)
    assert rows(out) == expected
    assert len(list(out.glob("part-*.parquet"))) == 2
