"""The run report: valid against its documented schema for every outcome, every field documented, no secret."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.config import Credentials, ReconcileConfig, Target
from reconciler.errors import InputError
from reconciler.reporting.run_report import build_report, check_report_location, report_figures, write_report
from reconciler.reporting.stats import RunStats, ScanFigures, SyncFigures, ThrottleFigures

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text())
SECRET = "s3cret-Report-Zz91"
CONFIG = ReconcileConfig(input_path=Path("keys.csv"), output_path=Path("out/status.parquet"),
                         target=Target(base_url=f"https://reports:{SECRET}@bp.example.com", tenant="bp.example.com",
                                       list_name="List_1.txt", campaign="Outbound"),
                         credentials=Credentials(login="reports", secret=SECRET), key_columns=("account_id",))
STATS = RunStats(output_path=Path("out/status.parquet"), rows=10, distinct_keys=9, by_status={"found": 8, "error": 2},
                 top_dispositions=[("Sale", 5), ("No answer", 3)], requests_sent=30, retries=20, duration_seconds=3.0,
                 completed_rows=5, first_errors=({"row": 4, "recon_error": "HTTP 503", "recon_http_status": 503,
                                                  "recon_attempts": 8},))
STARTED = datetime(2026, 3, 1, 2, 15, tzinfo=UTC)


def report(*, config: ReconcileConfig | None = CONFIG, stats: RunStats | None = STATS, exit_code: int = 1,
           error: str | None = None) -> dict[str, Any]:
    built = build_report(config=config, stats=stats, exit_code=exit_code, error=error, started_at=STARTED,
                         ended_at=STARTED + timedelta(seconds=3.5))
    jsonschema.validate(built, SCHEMA, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for moment in ("started_at", "ended_at"):
        assert datetime.fromisoformat(built[moment]).tzinfo is not None
    return built


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(("exit_code", "finished", "outcome"), [
    (0, True, "complete"),
    (1, True, "complete_with_errors"),
    (1, False, "aborted"),  # every request failed for --failure-span: no table
    (2, False, "usage_or_input_error"),
    (3, False, "aborted"),
    (130, False, "interrupted"),
    (143, False, "interrupted"),
])
def test_every_outcome_validates(exit_code: int, finished: bool, outcome: str) -> None:
    built = report(stats=STATS if finished else None, exit_code=exit_code, error=None if finished else "it failed")
    assert built["outcome"] == outcome
    assert (built["figures"] is None) == (not finished)


def test_a_run_that_failed_before_its_configuration_was_built() -> None:
    built = report(config=None, stats=None, exit_code=2, error="BP_PASSWORD is required")
    assert built["configuration"] is None and built["first_errors"] == []


def test_figures_list_every_status_and_the_first_errors() -> None:
    built = report()
    assert built["figures"]["by_status"] == {"found": 8, "not_found": 0, "invalid_input": 0, "error": 2}
    assert built["figures"]["achieved_rate"] == 10.0
    assert built["figures"]["top_dispositions"] == [{"disposition": "Sale", "rows": 5},
                                                    {"disposition": "No answer", "rows": 3}]
    assert built["first_errors"][0]["row"] == 4


def test_a_nightly_run_reports_its_identity_its_sync_and_its_change_feed() -> None:
    nightly = replace(CONFIG, strategy="incremental", state_path=Path("/srv/recon/list.state"),
                      changes_path=Path("out/run_date={date}/changes.parquet"))
    stats = replace(STATS, strategy="incremental", run_id="20260301T021500Z-ab12cd", run_date=date(2026, 3, 1),
                    sync=SyncFigures(full_read=False, reason="", pages=3, changed=1_204), asked_one_by_one=7,
                    changes_path=Path("out/run_date=2026-03-01/changes.parquet"), changed_rows=95)
    built = report(config=nightly, stats=stats)
    assert built["configuration"]["state"] == "/srv/recon/list.state"
    assert built["configuration"]["changes"] == "out/run_date={date}/changes.parquet"
    assert built["configuration"]["full_refresh_after_seconds"] == 7 * 86400
    assert built["figures"]["run_id"] == "20260301T021500Z-ab12cd" and built["figures"]["run_date"] == "2026-03-01"
    assert built["figures"]["sync"] == {"full_read": False, "reason": None, "pages": 3, "changed_records": 1_204,
                                        "asked_one_by_one": 7, "records_read_twice": 0, "pages_out_of_order": 0}
    assert built["figures"]["scan"] is None
    assert built["figures"]["changes"] == {"output": "out/run_date=2026-03-01/changes.parquet", "rows": 95,
                                           "earlier_runs_rows": 0}
    assert report()["figures"]["sync"] is None and report()["figures"]["changes"] is None


def test_a_scan_and_a_full_read_report_what_their_pages_met() -> None:
    scan = replace(STATS, strategy="scan", scan=ScanFigures(records_read_twice=12, pages_out_of_order=3,
                                                            keys_asked=40, keys_found_by_asking=2))
    assert report(stats=scan)["figures"]["scan"] == {"records_read_twice": 12, "pages_out_of_order": 3,
                                                      "keys_asked": 40, "keys_found_by_asking": 2}
    full = replace(STATS, strategy="incremental", asked_one_by_one=40,
                   sync=SyncFigures(full_read=True, reason="first", pages=3, changed=0, records_read_twice=5,
                                    pages_out_of_order=2))
    sync = report(stats=full)["figures"]["sync"]
    assert (sync["records_read_twice"], sync["pages_out_of_order"], sync["asked_one_by_one"]) == (5, 2, 40)


def test_the_figures_say_how_the_server_slowed_the_run_down() -> None:
    calm = report()["figures"]
    assert calm["retries_by_status"] == {}
    assert calm["throttle"] == {"overload_answers": 0, "rate_cuts": 0, "lowest_rate": None,
                                "retry_after_pauses": 0, "retry_after_seconds": 0.0}
    stormy = replace(STATS, retries_by_status={"429": 15, "503": 4, "no_answer": 1},
                     throttle=ThrottleFigures(overload_answers=19, rate_cuts=2, lowest_rate=5.0 / 3,
                                              retry_after_pauses=3, retry_after_seconds=7.0000004))
    figures = report(stats=stormy)["figures"]
    assert figures["retries_by_status"] == {"429": 15, "503": 4, "no_answer": 1}
    assert figures["throttle"] == {"overload_answers": 19, "rate_cuts": 2, "lowest_rate": 1.667,
                                   "retry_after_pauses": 3, "retry_after_seconds": 7.0}
    assert report()["report_version"] == SCHEMA["properties"]["report_version"]["const"] == 2


@pytest.mark.parametrize(("dialect", "strategy"), [("v3", "scan"), ("v2", "incremental")])
def test_runs_of_every_dialect_and_strategy_validate(dialect: str, strategy: str) -> None:
    config = replace(CONFIG, target=replace(CONFIG.target, dialect=dialect), strategy=strategy,
                     state_path=Path("nightly.state"))
    built = report(config=config, stats=replace(STATS, strategy=strategy))
    assert (built["configuration"]["dialect"], built["figures"]["strategy"]) == (dialect, strategy)


def test_no_secret_and_no_url_password() -> None:
    built = report()
    text = json.dumps(built)
    assert SECRET not in text
    assert built["configuration"]["secret"] == "<redacted>"
    assert built["configuration"]["base_url"] == "https://bp.example.com"
    assert built["configuration"]["rate"] == 20.0
    assert (built["configuration"]["page_size"], built["configuration"]["unreachable_after"]) == (1000, 20.0)


def test_every_field_written_is_documented() -> None:
    built = report()

    def undocumented(value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
        missing = [f"{where}{name}" for name in value if name not in schema["properties"]]
        for name, inner in value.items():
            if isinstance(inner, dict) and "properties" in schema["properties"].get(name, {}):
                missing += undocumented(inner, schema["properties"][name], f"{where}{name}.")
        return missing

    assert undocumented(built, SCHEMA, "") == []


def test_the_report_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_report(path, report())
    assert json.loads(path.read_text())["outcome"] == "complete_with_errors"
    with pytest.raises(TypeError):
        write_report(path, {"not json": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # the old one stays, no temp file
    assert json.loads(path.read_text())["outcome"] == "complete_with_errors"


def test_a_report_location_that_cannot_work_is_refused_before_the_run(tmp_path: Path) -> None:
    check_report_location(tmp_path / "report.json")
    with pytest.raises(InputError, match=r"the report's folder .* does not exist"):
        check_report_location(tmp_path / "nope" / "report.json")
    with pytest.raises(InputError, match="the report path is a folder"):
        check_report_location(tmp_path)


def test_the_json_summary_line_is_held_to_the_report_s_figures() -> None:
    # docs/log-line-schema.json copies the figures' schema: a figure added to one must be added to the other.
    log_line = json.loads((Path(__file__).resolve().parents[2] / "docs" / "log-line-schema.json").read_text())
    summary = log_line["allOf"][1]
    assert summary["if"]["properties"]["logger"] == {"const": "reconciler.summary"}
    figures = SCHEMA["properties"]["figures"]
    assert summary["then"] == {"required": figures["required"], "properties": figures["properties"]}
    line = {"time": "2026-03-01T02:15:00.000+00:00", "level": "INFO", "logger": "reconciler.summary",
            "message": "reconciler: run finished", **report_figures(STATS)}
    jsonschema.validate(line, log_line, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    with pytest.raises(jsonschema.ValidationError, match="'rows' is a required property"):
        jsonschema.validate({k: v for k, v in line.items() if k != "rows"}, log_line)
    with pytest.raises(jsonschema.ValidationError, match="Unevaluated properties"):
        jsonschema.validate({**line, "logger": "reconciler.cli"}, log_line)  # other lines carry no figures
