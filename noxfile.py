"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s docs``.

``nox -s scaleout`` starts a 3-node Galera cluster and PgBouncer on loopback (scripts/),
runs tests/scaleout against them and stops them again.

The ``tests`` session is parametrised by database, like SQLAlchemy's own: the database is
chosen by URL, never by editing code. ``nox -s "tests(db='postgresql')"`` runs the suite
with PostgreSQL required (skips become failures).
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True

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


@nox.session
@nox.parametrize("db", list(DATABASES))
def tests(session: nox.Session, db: str) -> None:
    """Run the suite; ``db`` selects the backends and makes them required."""
    session.install("-e", ".[test]")
    env = {name: os.environ.get(name, url) for name, url in DEFAULT_URLS.items()}
    env["RESERVATION_CORE_REQUIRE_BACKENDS"] = DATABASES[db]
    selection = [] if db == "all" else ["-k", db]
    session.run("pytest", *selection, *session.posargs, env=env)


@nox.session
def soak(session: nox.Session) -> None:
    """A long Hypothesis soak of the state machine on every backend (not run by default)."""
    session.install("-e", ".[test]")
    env = {name: os.environ.get(name, url) for name, url in DEFAULT_URLS.items()}
    env["RESERVATION_CORE_SOAK"] = os.environ.get("RESERVATION_CORE_SOAK", "1")
    env["RESERVATION_CORE_REQUIRE_BACKENDS"] = "all"
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
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]")
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
