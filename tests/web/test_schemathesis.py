"""The FastAPI example's OpenAPI description is true: schemathesis finds nothing.

schemathesis (``st run``) reads ``/openapi.json`` from the example served by uvicorn and
sends what the description allows and what it does not, over HTTP, in every phase
(examples, coverage, fuzzing, and stateful runs that follow the description's links:
create a schedule, book or hold on it, read, confirm, cancel or refund as the same
user), with every check on. Any failure fails the test; its report is the message.
``tests/web/schemathesis.toml`` says which refusals of valid data the API makes on
purpose. The run is bounded in time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.web.servers import uvicorn

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Seconds for one run, all phases together; each database gets one run.
BUDGET = 40


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_schemathesis_finds_no_failure(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'reservations.sqlite3'}"
    else:
        engine: Engine = request.getfixturevalue("postgresql_engine")
        url = engine.url.render_as_string(hide_password=False)
    st = Path(sys.executable).with_name("st")
    with uvicorn(url, tmp_path) as (base_url, _):
        run = subprocess.run(  # noqa: S603 - schemathesis from this environment
            [
                str(st),
                "--config-file",
                str(CONFIG),
                "run",
                f"{base_url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "50",
                "--max-time",
                str(BUDGET),
                "--request-timeout",
                "30",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=BUDGET + 300,
            check=False,
        )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase} (in" in report, report
    followed = re.search(r"API Links:\s+(\d+) covered", report)
    assert followed is not None, report
    assert int(followed.group(1)) > 0, report
