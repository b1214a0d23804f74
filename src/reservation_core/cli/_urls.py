"""Database URLs on the command line: parsed, printed without secrets, spelled leniently.

A password must never reach the terminal: not from a URL that does not parse, nor from a
query parameter, nor from a driver's message quoting what it was given (:func:`redact`).
"""

from __future__ import annotations

import re

from sqlalchemy import exc as sa_exc
from sqlalchemy import make_url
from sqlalchemy.engine import URL, Engine

FORMS = "sqlite:///FILE, postgresql+psycopg://USER@HOST/DB or mysql+pymysql://USER@HOST/DB"


class CliError(Exception):
    """A failure the command reports as one line on stderr, exiting with status 2."""


#: Query parameters that carry a secret (``?password=``, ``?passwd=``, ``?sslpassword=``).
_SECRET_NAMES = "pass|pwd|secret|token"  # noqa: S105 - names, not a password
_SECRET_PARAMETER = re.compile(_SECRET_NAMES, re.IGNORECASE)
_TYPED_QUERY_SECRET = re.compile(rf"([?&][^=&]*(?:{_SECRET_NAMES})[^=&]*=)[^&]*", re.IGNORECASE)
#: The secrets of the URLs parsed so far; :func:`redact` hides them in any message.
_SECRETS: set[str] = set()
#: The password of a URL as typed, however malformed: after the user's ``:`` up to the
#: last ``@`` (a password may hold ``@``, ``/`` or ``:``), or, without an ``@``, up to the
#: path (where a parser would read a port).
_TYPED_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*:/*[^:/@?#]*:)(.*@|[^/?#@]*)", re.DOTALL)


def redact(text: str) -> str:
    """``text`` with every secret of the URLs parsed so far replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def shown(url: URL | Engine) -> str:
    """A URL fit to print: the password and any secret query parameter hidden."""
    url = url.url if isinstance(url, Engine) else url
    return _TYPED_QUERY_SECRET.sub(r"\1***", url.render_as_string(hide_password=True))


def _typed(text: str) -> str:
    """A URL as typed, fit to print even when it does not parse."""
    text = _TYPED_PASSWORD.sub(lambda m: m[1] + ("***@" if m[2].endswith("@") else "***"), text)
    return _TYPED_QUERY_SECRET.sub(r"\1***", text)


def _typed_secrets(text: str) -> list[str]:
    """The password and secret parameters as typed, and their parts between ``@``s.

    A URL whose secret holds a bare ``@`` parses, but wrongly: pieces of the secret land
    in the host or the database name, and from there in a driver's messages.
    """
    found = [m[2][:-1] for m in _TYPED_PASSWORD.finditer(text) if m[2].endswith("@")]
    found += [m[0][len(m[1]) :] for m in _TYPED_QUERY_SECRET.finditer(text)]
    return found + [part for secret in found for part in secret.split("@")]


def _remember_secrets(text: str, url: URL) -> None:
    values = [*_typed_secrets(text), url.password or ""]
    for key, value in url.query.items():
        if _SECRET_PARAMETER.search(key):
            values += [value] if isinstance(value, str) else list(value)
    # A secret of one or two characters is not worth garbling every message for.
    _SECRETS.update(value for value in values if len(value) > 2)


def remember_secrets(url_text: str) -> None:
    """Hide the secrets of a URL that is not a database's (a broker's) in every message."""
    _SECRETS.update(secret for secret in _typed_secrets(url_text) if len(secret) > 2)


def _unsplit_password(url: URL) -> URL:
    """A password with a bare ``@`` leaves its tail in the host: put it back."""
    if url.host is None or "@" not in url.host:
        return url
    tail, host = url.host.rsplit("@", 1)
    password = f"{url.password or ''}@{tail}"
    return url.set(password=password, host=host)


def _postgres_alias(url: URL) -> URL:
    """``postgres://`` (Heroku, libpq, many platforms) is PostgreSQL with psycopg."""
    backend, _, driver = url.drivername.partition("+")
    if backend != "postgres":
        return url
    return url.set(drivername=f"postgresql+{driver or 'psycopg'}")


def _why_unparsable(text: str) -> str:
    """What in ``text`` SQLAlchemy's URL parser refused, and what to type instead.

    Never quotes what it refused but the scheme: the rest may be a password or hold one.
    """
    scheme, separator, rest = text.partition("://")
    credentials, at, location = rest.rpartition("@")
    host = re.split(r"[/?]", location, maxsplit=1)[0]
    port = host.rpartition("]")[2].partition(":")[2]
    bad_port = bool(port) and not port.isdigit()
    reasons = [
        (not separator, "'://' must follow the database and driver names"),
        (
            re.fullmatch(r"[\w+]+", scheme) is None,
            f"the scheme {scheme!r} may hold only letters, digits, '_' and '+'",
        ),
        # The parser ends the password at its first "@" and reads the rest as the host.
        ("@" in credentials, "the password holds '@': percent-encode it as %40"),
        (host.startswith("[") and "]" not in host, "the IPv6 address lacks its closing ']'"),
        # Without "@HOST" the "port" may be a password: never quoted.
        (
            bad_port and not at,
            "what follows ':' is no port number (a password goes in USER:PASSWORD@HOST)",
        ),
        (bad_port, "the port is not a number"),
    ]
    return next(
        (reason for refused, reason in reasons if refused),
        f"it does not have the form {'USER:PASSWORD@' if at else ''}HOST:PORT/DATABASE",
    )


def parse_url(text: str) -> URL:
    """Parse a database URL, or fail with a :class:`CliError` that shows the expected form.

    The secrets it holds are remembered, so that :func:`redact` hides them in any message.
    """
    try:
        url = _postgres_alias(_unsplit_password(make_url(text)))
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port not a number
        # Only the typed text, masked: the parser's own message may quote a password
        # that a missing "@" or "/" left where the host or port should be.
        raise CliError(
            f"not a database URL: {_typed(text)!r}: {_why_unparsable(text)} (expected {FORMS})"
        ) from None
    _remember_secrets(text, url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise CliError(
            "an in-memory SQLite database is private to each connection; "
            "give a file: sqlite:///path/to/reservations.db"
        )
    return url
