"""Where a sweep's Optuna study lives, when it is not the file journal in the sweep directory.

``genlab sweep start --storage URL`` keeps the study in a database (``postgresql://USER@HOST[:PORT]/DB``
through SQLAlchemy's ``postgresql+psycopg`` dialect, ``mysql://...`` through whatever MySQL
driver is installed) with Optuna's ``RDBStorage``, or behind Optuna's gRPC storage proxy
(``grpc://HOST:PORT``, served by ``genlab sweep serve-storage``). Everything else of the sweep
stays in its directory; the spec records the URL, which join, resume, show and the workers use.

Passwords are never in a URL: one typed there is refused (it would be recorded in the spec and
shown by ``ps`` to every user of the machine). The password comes from where the database's own
client library reads it: PGPASSWORD or ~/.pgpass (PGPASSFILE) for PostgreSQL, the driver's
option file for MySQL. So no genlab file, log line or error message can hold it.

:func:`check` reaches the database before anything is written (a bad URL, a wrong password, an
unreachable server, a missing database: one line, exit 2). :class:`Retrying` is the storage a
worker uses: a call that fails because the database went away waits and tries again, telling
the worker (a warning in its log and status) until it is back; the trials' runs go on meanwhile.
"""

from __future__ import annotations

import abc
import inspect
import signal
import time
import warnings
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage

from genlab.errors import UsageError

RDB_SCHEMES = ("postgresql", "postgres", "mysql")
GRPC_SCHEME = "grpc"
RETRY_S = 2.0  # between tries while the study's storage is unreachable
REMIND_S = 60.0  # the warning again, with how long it has lasted
SECRET_KEYS = ("password", "passwd", "passfile")


def scheme(url: str) -> str:
    """``postgresql`` for ``postgresql+psycopg://...``: the database, without its driver."""
    return urlsplit(url).scheme.split("+", 1)[0].lower()


def parse(url: str) -> str:
    """The URL as it is recorded (unchanged: it holds no password), or UsageError in one line."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UsageError(f"--storage {redact(url)!r} is not a URL: {e}") from None
    kind = scheme(url)
    if kind not in (*RDB_SCHEMES, GRPC_SCHEME):
        raise UsageError(f"--storage {redact(url)!r}: give postgresql://USER@HOST[:PORT]/DB, mysql://USER@HOST/DB "
                         "or grpc://HOST:PORT (the default, no --storage, is a file journal in the sweep directory)")
    if parts.password is not None or any(k.lower() in SECRET_KEYS for k, _ in parse_qsl(parts.query)):
        where = ("PGPASSWORD or ~/.pgpass" if kind in ("postgresql", "postgres")
                 else "an option file the MySQL driver reads (?read_default_file=/path/to/.my.cnf)")
        raise UsageError(f"--storage: no password in the URL (it would be recorded and seen in the process list): "
                         f"give it in {where}")
    if kind == GRPC_SCHEME:
        if not parts.hostname or port is None or parts.path.strip("/"):
            raise UsageError(f"--storage {url!r}: a gRPC storage proxy is grpc://HOST:PORT")
    elif not parts.path.strip("/"):
        raise UsageError(f"--storage {url!r} names no database: add /DBNAME")
    return url


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages about a URL that was refused)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        return parts._replace(netloc=f"{parts.username}:***@{netloc[-1]}").geturl()
    except ValueError:
        return "(a URL)"


def sqlalchemy_url(url: str) -> str:
    """What SQLAlchemy is given: PostgreSQL through psycopg (version 3) unless a driver is named."""
    kind, rest = url.split("://", 1)
    if kind.lower() in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return url


def open_storage(url: str) -> BaseStorage:
    """Optuna's storage for ``url`` (a database's tables are created the first time)."""
    if scheme(url) == GRPC_SCHEME:
        from optuna.storages import GrpcStorageProxy

        parts = urlsplit(url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # (Optuna 4.2's proxy is "experimental")
            proxy = GrpcStorageProxy(host=parts.hostname, port=parts.port)
        proxy.wait_server_ready(timeout=5)
        return proxy
    from optuna.storages import RDBStorage, get_storage

    # pool_pre_ping: a connection the server dropped (it restarted) is replaced, not used and failed;
    # get_storage: Optuna's cache of finished trials in front of it (read once, not every poll)
    return get_storage(RDBStorage(sqlalchemy_url(url), engine_kwargs={"pool_pre_ping": True}))


def reason(e: BaseException) -> str:
    """What went wrong, in one line: the driver's own words (no SQL, no traceback)."""
    for cause in chain(e):
        orig = getattr(cause, "orig", None)  # SQLAlchemy's DBAPIError: the driver's exception
        if orig is not None:
            return " ".join(str(orig).split())
        if hasattr(cause, "code") and hasattr(cause, "details") and callable(cause.details):  # grpc.RpcError
            return f"{cause.code().name}: {' '.join(str(cause.details()).split())}"
    return " ".join(str(e).split()) or type(e).__name__


def chain(e: BaseException | None):
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def check(url: str, study_name: str | None = None) -> None:
    """Reach the study's storage now, or UsageError in one line: before a sweep's directory is
    made (so a bad URL leaves nothing), and with ``study_name`` that no study of that name is
    there already (another runs directory's sweep of the same name)."""
    where = f"--storage {url}"
    try:
        storage = open_storage(parse(url))
    except UsageError:
        raise
    except ImportError as e:
        missing = list(chain(e))[-1]  # the driver's own ImportError, under Optuna's
        if scheme(url) == GRPC_SCHEME:
            raise UsageError(f"{where}: the gRPC proxy needs grpcio and protobuf ({reason(missing)}): "
                             "pip install grpcio protobuf") from None
        raise UsageError(f"{where}: its database driver is not installed ({reason(missing)}); for MySQL: "
                         "pip install mysqlclient, or name another driver (mysql+pymysql://)") from None
    except Exception as e:  # OperationalError (refused, wrong password, no such database), grpc's timeout
        if scheme(url) == GRPC_SCHEME and isinstance(e, (ConnectionError, TimeoutError)):
            raise UsageError(f"{where}: no gRPC storage proxy answers there (start one: genlab sweep "
                             "serve-storage --storage DATABASE_URL)") from None
        raise UsageError(f"{where}: cannot reach the study's database: {reason(e)}") from None
    if study_name is not None:
        try:
            storage.get_study_id_from_name(study_name)
        except KeyError:
            return
        except Exception as e:
            raise UsageError(f"{where}: cannot read the study's database: {reason(e)}") from None
        raise UsageError(f"{where} already holds a study named {study_name!r} (another runs directory's "
                         "sweep?): give this one another --name")


def is_outage(e: BaseException) -> bool:
    """``e`` says the storage is unreachable (down, restarting, the network), not that a call was wrong."""
    for cause in chain(e):
        names = {c.__name__ for c in type(cause).__mro__}
        if names & {"OperationalError", "InterfaceError"}:  # SQLAlchemy's and the drivers' (psycopg's)
            return True
        if getattr(cause, "connection_invalidated", False):
            return True
        if "RpcError" in names and callable(getattr(cause, "code", None)):
            code = cause.code().name
            details = str(cause.details() if callable(getattr(cause, "details", None)) else "")
            if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") or "OperationalError" in details:
                return True
    return False


class Retrying(BaseStorage):
    """``inner`` (Optuna's storage of a database or proxy), whose calls that fail because it is
    unreachable are tried again every RETRY_S until it is back. ``outage(warning)`` is called at
    each try (so the worker keeps beating while it waits) with the warning, and once with None
    when the storage answers again.

    A write whose answer was lost with the connection may have been done: a trial's end told
    again is taken as told (UpdateFinishedTrialError after a retry)."""

    def __init__(self, inner: BaseStorage, url: str, outage: Callable[[str | None], None]):
        self.inner, self.url, self.outage = inner, url, outage

    def call(self, name: str, args: tuple, kwargs: dict):
        from optuna.exceptions import UpdateFinishedTrialError

        first = remind = None
        while True:
            try:
                result = getattr(self.inner, name)(*args, **kwargs)
            except UpdateFinishedTrialError:
                if first is not None and name == "set_trial_state_values":
                    result = True  # told before the connection dropped
                else:
                    raise
            except Exception as e:
                if not is_outage(e):
                    raise
                now = time.monotonic()
                first = first or now
                if remind is None or now >= remind:
                    remind = now + REMIND_S
                    lasted = f" for {now - first:.0f} s" if now > first else ""
                    warning = (f"the study's storage {self.url} is unreachable{lasted} ({reason(e)}): retrying every "
                               f"{RETRY_S:g} s; the trials' runs go on")
                self.outage(warning)
                time.sleep(RETRY_S)
                continue
            if first is not None:
                self.outage(None)
            return result


def serve(url: str, host: str, port: int, say: Callable[[str], None]) -> None:
    """Optuna's gRPC storage proxy in front of the database ``url``, until Ctrl-C. An outage of
    the database is waited out here (said once), so the workers behind the proxy only wait."""
    from optuna.storages import run_grpc_proxy_server

    said = [None]

    def outage(warning: str | None) -> None:
        if warning != said[0]:
            said[0] = warning
            say(f"warning: {warning}" if warning else "the database answers again")

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    # Ctrl-C (and a TERM) stop it even where it was started with SIGINT ignored (a job started
    # in the background by a shell, a test runner's worker): Python raises KeyboardInterrupt only
    # where SIGINT had its default handling when it started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run_grpc_proxy_server(Retrying(open_storage(url), url, outage), host=host, port=port)
    except RuntimeError as e:  # grpc: "Failed to bind to address"
        raise UsageError(f"cannot serve at {host}:{port}: {reason(e)}") from None


def _retried(name: str):
    def method(self, *args, **kwargs):
        return self.call(name, args, kwargs)

    method.__name__ = method.__qualname__ = name
    return method


for _name, _ in inspect.getmembers(BaseStorage, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(Retrying, _name, _retried(_name))
abc.update_abstractmethods(Retrying)
