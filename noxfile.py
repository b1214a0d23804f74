"""Developer sessions: the support matrix, the whole suite by database, lint, types, docs.

* ``nox -s tests``: the support matrix. One session per Python the classifiers in
  pyproject.toml name and per SQLAlchemy at the floor of its requirement (``lowest``) and
  its newest release (``newest``): the contract and race suites and the public API
  snapshot, every database required. ``nox -s "tests(python='3.12', sqlalchemy='lowest')"``
  runs one. The combinations run one after another: they share the test databases.
* ``nox -s "suite(db='postgresql')"``: the whole suite with that database required (skips
  become failures); ``db='all'`` requires every one.
* ``nox -s release_check``: what a release must pass (see the session).

The databases are chosen by URL, never by editing code: ``RESERVATION_CORE_POSTGRESQL_URL``
and ``RESERVATION_CORE_MARIADB_URL`` (defaults below). Virtualenvs are made by uv when it is
installed (``pip install nox uv``), else by virtualenv, and reused between runs.

``nox -s scaleout`` starts a 3-node Galera cluster and PgBouncer on loopback (scripts/),
runs tests/scaleout against them and stops them again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

nox.options.sessions = ["lint", "typecheck", "suite(db='all')", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True
PYPROJECT = nox.project.load_toml("pyproject.toml")
nox.options.default_venv_backend = "uv|virtualenv"

DEFAULT_URLS = {
    "RESERVATION_CORE_POSTGRESQL_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "RESERVATION_CORE_MARIADB_URL": "mysql+pymysql://root@127.0.0.1:3306/test",
}
DATABASES = {
    "memory": "",
    "sqlite": "",
    "postgresql": "postgresql",
    "mariadb": "mariadb",
    "all": "all",
}
#: What the support matrix runs for each combination.
MATRIX_TESTS = ["tests/contract", "tests/concurrency", "tests/test_public_api.py"]
#: Makes tests/conftest.py build each database as 0.1 left it, then migrate it to head.
UPGRADED_SCHEMA_VARIABLE = "RESERVATION_CORE_TEST_SCHEMA"


def _classifier_pythons() -> list[str]:
    """The Python versions the package metadata promises: what CI must test."""
    prefix = "Programming Language :: Python :: "
    versions = [c.removeprefix(prefix) for c in PROJECT["classifiers"] if c.startswith(prefix)]
    return [version for version in versions if re.fullmatch(r"3\.\d+", version)]


def _sqlalchemy_floor() -> str:
    """The lowest SQLAlchemy the dependency allows (its ``>=`` bound)."""
    for dependency in PROJECT["dependencies"]:
        requirement = Requirement(dependency)
        if requirement.name.lower() == "sqlalchemy":
            return next(spec.version for spec in requirement.specifier if spec.operator == ">=")
    raise LookupError("pyproject.toml has no SQLAlchemy dependency")


def _find_pyenv_pythons(pythons: list[str]) -> None:
    """Let nox find the matrix's Pythons that pyenv has installed but not active.

    pyenv's ``python3.12`` shim refuses to run unless ``pyenv version`` names a 3.12; the
    newest installed patch of each version is appended to ``PATH``, behind the shims, so
    nothing else changes (``python3`` stays what it was).
    """
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if not versions.is_dir():
        return
    extra: list[str] = []
    for python in pythons:
        patches = [
            p for p in versions.iterdir() if re.fullmatch(rf"{re.escape(python)}\.\d+", p.name)
        ]
        if patches:
            newest = max(patches, key=lambda path: int(path.name.rsplit(".", 1)[1]))
            extra.append(str(newest / "bin"))
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *extra])


PYTHONS = _classifier_pythons()
_find_pyenv_pythons(PYTHONS)


def _database_env(required: str) -> dict[str, str]:
    env = {name: os.environ.get(name, url) for name, url in DEFAULT_URLS.items()}
    env["RESERVATION_CORE_REQUIRE_BACKENDS"] = required
    return env


@nox.session
@nox.parametrize("sqlalchemy", ["lowest", "newest"])
@nox.parametrize("python", PYTHONS)
def tests(session: nox.Session, sqlalchemy: str) -> None:
    """The contract and race suites and the API snapshot on one Python and one SQLAlchemy."""
    if sqlalchemy == "lowest":
        floor = _sqlalchemy_floor()
        session.install("-e", ".[test]", f"SQLAlchemy=={floor}")
    else:
        session.install("--upgrade", "-e", ".[test]")
    session.run(
        "python",
        "-c",
        "import platform, sqlalchemy; "
        "print('Python', platform.python_version(), 'SQLAlchemy', sqlalchemy.__version__)",
    )
    if sqlalchemy == "lowest":
        session.run(
            "python", "-c", f"import sqlalchemy; assert sqlalchemy.__version__ == {floor!r}"
        )
    session.run("pytest", *MATRIX_TESTS, *session.posargs, env=_database_env("all"))


@nox.session
@nox.parametrize("db", list(DATABASES))
def suite(session: nox.Session, db: str) -> None:
    """The whole suite; ``db`` selects the backends and makes them required."""
    session.install("-e", ".[test]")
    selection = [] if db == "all" else ["-k", db]
    session.run("pytest", *selection, *session.posargs, env=_database_env(DATABASES[db]))


@nox.session
def release_check(session: nox.Session) -> None:
    """What a release must pass before it is tagged and uploaded.

    The sdist and the wheel are built and checked (``twine check --strict``,
    ``check-wheel-contents``); the wheel is installed in a clean virtualenv, imported and
    used there, and the README's first command (``reservation-core demo``) is run from it;
    then a database of every kind is built with the 0.1 schema and data, migrated to head,
    checked (tests/upgrade), and the contract suite runs on the upgraded databases.
    """
    session.install("-e", ".[test]", "build", "twine", "check-wheel-contents")
    work = Path(session.create_tmp()).resolve()
    dist, clean = work / "dist", work / "clean"
    for directory in (dist, clean):
        shutil.rmtree(directory, ignore_errors=True)

    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))
    # W004 "not at an importable path": Alembic's revision scripts (versions/0001_...) are
    # loaded by file name, never imported.
    session.run("check-wheel-contents", "--ignore", "W004", str(wheel))

    session.run("python", "-m", "venv", str(clean))
    python, command = clean / "bin" / "python", clean / "bin" / "reservation-core"
    session.run(str(python), "-m", "pip", "install", "-q", str(wheel), external=True)
    with session.chdir(work):
        session.run(str(python), str(ROOT / "scripts" / "check_installed.py"), external=True)
        session.run(str(command), "demo", external=True)
        report = session.run(str(command), "demo", "--json", external=True, silent=True)
    _check_demo_report(session, json.loads(str(report)))

    env = _database_env("all")
    session.run("pytest", "tests/upgrade", env=env)
    session.run("pytest", "tests/contract", env={**env, UPGRADED_SCHEMA_VARIABLE: "0.1"})


def _check_demo_report(session: nox.Session, report: dict[str, object]) -> None:
    expected = {
        "backend": "sqlite",
        "consistent": True,
        "confirmed": 10,
        "capacity": 10,
        "rejected": {"CAPACITY_EXCEEDED": 90},
    }
    got = {key: report.get(key) for key in expected}
    if got != expected:
        session.error(f"reservation-core demo --json from the wheel: {got}, expected {expected}")
    session.log(f"demo OK: {report['confirmed']} of {report['requests']} confirmed, consistent")


#: The failover clusters' defaults: ports and directories of their own, so neither the
#: servers on 5432/3306 nor another session's Galera cluster is touched.
FAILOVER_DEFAULTS = {
    "RC_PATRONI_DIR": str(Path(tempfile.gettempdir()) / "reservation-core-failover-patroni"),
    "RC_GALERA_DIR": str(Path(tempfile.gettempdir()) / "reservation-core-failover-galera"),
    "RC_GALERA_PORT": "3330",
    "RC_GALERA_GALERA_PORT": "4640",
}


@nox.session
def failover(session: nox.Session) -> None:
    """The failover storms (tests/failover) on clusters this session starts and stops.

    A Patroni cluster (scripts/patroni.sh: etcd, a primary and a synchronous standby, and
    HAProxy routing by Patroni's health check) whose primary is killed mid-storm, once
    reached by a multi-host URL and once through HAProxy, and a 3-node Galera cluster
    (scripts/galera.sh) that loses a node mid-storm. Needs Debian's patroni, etcd-server,
    haproxy, galera-4, mariadb-server and rsync. ``RC_PATRONI_SYNC=off`` runs the
    PostgreSQL storms on asynchronous replication (they then report what was lost instead
    of failing on it). The figures are printed and appended to
    ``RESERVATION_CORE_FAILOVER_REPORT`` when it names a file.
    """
    session.install("-e", ".[test]")
    env = {name: os.environ.get(name, value) for name, value in FAILOVER_DEFAULTS.items()}
    patroni, galera = str(ROOT / "scripts" / "patroni.sh"), str(ROOT / "scripts" / "galera.sh")
    try:
        session.run(patroni, "start", env=env, external=True)
        session.run(galera, "start", env=env, external=True)
        env["RESERVATION_CORE_FAILOVER_POSTGRESQL_URL"] = str(
            session.run(patroni, "url", env=env, external=True, silent=True)
        ).strip()
        env["RESERVATION_CORE_FAILOVER_HAPROXY_URL"] = str(
            session.run(patroni, "haproxy-url", env=env, external=True, silent=True)
        ).strip()
        env["RESERVATION_CORE_FAILOVER_GALERA_URLS"] = str(
            session.run(galera, "urls", env=env, external=True, silent=True)
        ).strip()
        env["RESERVATION_CORE_REQUIRE_FAILOVER"] = "all"  # never a silent skip
        session.run("pytest", "-s", "tests/failover", *session.posargs, env=env)
    finally:
        session.run(patroni, "stop", env=env, external=True, success_codes=[0, 1])
        session.run(galera, "stop", env=env, external=True, success_codes=[0, 1])


@nox.session
def soak(session: nox.Session) -> None:
    """A long Hypothesis soak of the state machine on every backend (not run by default)."""
    session.install("-e", ".[test]")
    env = _database_env("all")
    env["RESERVATION_CORE_SOAK"] = os.environ.get("RESERVATION_CORE_SOAK", "1")
    session.run("pytest", "tests/stateful", *session.posargs, env=env)


@nox.session
def scaleout(session: nox.Session) -> None:
    """The scale-out suites: Galera (3 nodes) and PgBouncer, 4 processes x 25 threads.

    Needs the apt packages ``mariadb-server``, ``galera-4`` and ``pgbouncer`` and the local
    PostgreSQL; the Galera nodes and PgBouncer run on ports and directories of their own
    and are stopped afterwards (``RESERVATION_CORE_SCALEOUT_KEEP=1`` leaves them running).
    """
    session.install("-e", ".[test]")
    scripts = ["scripts/galera.sh", "scripts/pgbouncer.sh"]
    try:
        for script in scripts:
            session.run("bash", script, "start", external=True)
        galera = session.run("bash", scripts[0], "urls", external=True, silent=True)
        pgbouncer = session.run("bash", scripts[1], "url", external=True, silent=True)
        env = {name: os.environ.get(name, url) for name, url in DEFAULT_URLS.items()}
        env["RESERVATION_CORE_GALERA_URLS"] = str(galera).strip()
        env["RESERVATION_CORE_PGBOUNCER_URL"] = str(pgbouncer).strip()
        env["RESERVATION_CORE_REQUIRE_BACKENDS"] = "galera,pgbouncer,postgresql"
        session.run("pytest", "tests/scaleout", "-rP", *session.posargs, env=env)
    finally:
        if not os.environ.get("RESERVATION_CORE_SCALEOUT_KEEP"):
            for script in scripts:
                session.run("bash", script, "stop", external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", *nox.project.dependency_groups(PYPROJECT, "typecheck"))
    session.run("mypy", "--strict", "src/reservation_core")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; any warning (a broken link, a stale page) fails."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
@nox.parametrize("db", ["postgresql", "mariadb", "sqlite"])
def bench(session: nox.Session, db: str) -> None:
    """Hot-schedule throughput against raw SQL and the ORM (informative; CI never gates on it).

    Give the benchmark a scratch database: it drops and recreates the ``rc_`` tables. Pass
    options after ``--``, e.g. ``nox -s "bench(db='postgresql')" -- --clients 1,4,16,64``.
    """
    session.install("-e", ".[test]")
    urls = {
        "postgresql": os.environ.get(
            "RESERVATION_CORE_BENCH_POSTGRESQL_URL",
            "postgresql+psycopg://postgres@127.0.0.1:5432/rc_bench",
        ),
        "mariadb": os.environ.get(
            "RESERVATION_CORE_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/rc_bench"
        ),
        "sqlite": f"sqlite:///{session.create_tmp()}/rc_bench.db",
    }
    args = session.posargs or ["--clients", "1,4,16,64", "--seconds", "10"]
    session.run("python", "benchmarks/hot_schedule.py", "--url", urls[db], *args)
