"""reconciler.output.scd and ``reconciler sql scd``: the shipped views, filled in (run over real nights in
tests/integration/test_scd_history.py)."""

from __future__ import annotations

import pytest

from reconciler.cli import main
from reconciler.errors import UsageError
from reconciler.output.scd import scd_template, scd_view


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_the_shipped_file_documents_its_placeholders_and_the_filled_view_has_none_left(dialect: str) -> None:
    template = scd_template(dialect)
    assert all(f"--   {{{name}}}" in template for name in ("view", "keys", "source"))
    filled = scd_view(dialect, ["region", 'odd"name'], view="bi.history")
    body = "".join(line for line in filled.splitlines(keepends=True) if not line.startswith("--"))
    assert "{" not in body and "CREATE OR REPLACE VIEW bi.history AS" in body
    assert 'PARTITION BY "region", "odd""name" ORDER BY recon_run_id' in body
    assert filled.splitlines()[:14] == template.splitlines()[:14], "the comments travel with the view"


def test_the_default_sources_are_the_readmes_layouts() -> None:
    assert "FROM read_parquet('status/**/*.parquet', hive_partitioning = true" in scd_view("duckdb", ["k"])
    assert "FROM recon_status\n" in scd_view("postgres", ["k"])


@pytest.mark.parametrize(("keys", "view", "message"), [
    ([], "v", "name the list's key column"),
    (["k"], "v; DROP TABLE t", "--view must be a name"),
])
def test_a_view_without_keys_or_with_a_name_that_is_not_one_is_refused(keys: list[str], view: str,
                                                                         message: str) -> None:
    with pytest.raises(UsageError, match=message):
        scd_view("postgres", keys, view=view)


def test_the_command_prints_the_view_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "scd", "--dialect", "postgres", "--key", "account_id", "--source", "bi.recon_status"]) == 0
    printed = capsys.readouterr()
    assert printed.out == scd_view("postgres", ["account_id"], source="bi.recon_status") and printed.err == ""
