"""The examples start after the documented ``pip install -e ".[web]"``, in a clean virtualenv."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import venv
from pathlib import Path
from urllib.parse import urlsplit

from tests.web.servers import ROOT, uvicorn


def test_the_examples_start_after_pip_install_web(tmp_path: Path) -> None:
    """``greenlet`` and ``aiosqlite`` come with the extra: the FastAPI example is async."""
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = str(environment / "bin" / "python")
    subprocess.run(  # noqa: S603 - the clean virtualenv's pip
        [python, "-m", "pip", "install", "-q", "-e", f"{ROOT}[web]"],
        check=True,
        capture_output=True,
    )
    imported = subprocess.run(  # noqa: S603 - the clean virtualenv's interpreter
        [python, "-c", "import examples.flask_app, examples.django_app as d; d.create_app()"],
        cwd=ROOT,
        # As a user's shell has it: the example's own settings, not the tests'.
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    url = f"sqlite:///{tmp_path / 'reservations.sqlite3'}"
    with uvicorn(url, tmp_path, python=python) as (base_url, running):
        address = urlsplit(base_url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
        body = json.dumps({"schedule_id": "s", "capacity": 1})
        connection.request("POST", "/schedules", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["remaining"]) == (201, 1)
        connection.close()
    assert "Traceback" not in running.output, running.output
