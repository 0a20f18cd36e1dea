"""Sweeps whose Optuna study is in a real PostgreSQL (``genlab sweep --storage postgresql://...``).

The server: GENLAB_TEST_POSTGRES (``postgresql://USER[:PASSWORD]@HOST:PORT/DB``, a role that may
create roles and databases; .ci/run starts one with .ci/postgres), else a throwaway cluster this
session starts with .ci/postgres itself. No PostgreSQL at all is a failure that says how to
install it, not a skip. Each test gets a database and a role of its own, whose random password
reaches genlab only through PGPASSWORD, so every file a sweep writes can be searched for it.

Trials are the tiniest the sweep tests use (a VAE of hidden=32 for a few steps), as real
detached processes, as in tests/test_sweep.py.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import optuna
import pytest
from test_sweep import genlab, no_strays, shown, sweep_state, trials, wait_until  # noqa: F401 (no_strays: autouse)
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.run.files import read_json
from genlab.run.sweeps import workers

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "postgres"
TINY = ["--hp", "hidden=32", "--quality-samples", "200"]


class Cluster:
    """A throwaway PostgreSQL server of .ci/postgres, under a directory of its own."""

    def __init__(self):
        # (not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter it)
        self.dir = Path(tempfile.mkdtemp(prefix="genlab-pg-"))
        p = subprocess.run(["bash", str(SCRIPT), "start", str(self.dir)], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            pytest.fail(f"these tests need a PostgreSQL server: {p.stderr.strip()} (or give one: "
                        "GENLAB_TEST_POSTGRES=postgresql://USER:PASSWORD@HOST:PORT/DB)", pytrace=False)
        self.url = p.stdout.strip()

    def run(self, command: str) -> None:
        p = subprocess.run(["bash", str(SCRIPT), command, str(self.dir)], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr

    def stop(self) -> None:
        self.run("stop")


@pytest.fixture(scope="session")
def postgres():
    """The server's admin URL (with its password, if any)."""
    if os.environ.get("GENLAB_TEST_POSTGRES"):
        yield os.environ["GENLAB_TEST_POSTGRES"]
        return
    cluster = Cluster()
    yield cluster.url
    cluster.stop()


class Database:
    """A fresh database owned by a fresh role; its URL carries no password."""

    def __init__(self, admin: str):
        import psycopg

        self.admin = admin
        self.name = "genlab_" + secrets.token_hex(6)
        self.password = secrets.token_hex(16)
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"CREATE ROLE {self.name} LOGIN PASSWORD '{self.password}'")
            c.execute(f"CREATE DATABASE {self.name} OWNER {self.name}")
        parts = urlsplit(admin)
        self.url = f"postgresql://{self.name}@{parts.hostname}:{parts.port or 5432}/{self.name}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            c.execute(f"DROP ROLE IF EXISTS {self.name}")


@pytest.fixture
def db(postgres, monkeypatch):
    """This test's database, its password in PGPASSWORD (for this process and what it starts)."""
    d = Database(postgres)
    monkeypatch.setenv("PGPASSWORD", d.password)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    yield d
    d.drop()


def holding(root: Path, secret: str) -> list[str]:
    """Every file under ``root`` whose bytes hold ``secret``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def timeline(root: Path, sweep: str) -> str:
    """Which worker ran which trial, when (for the closing note: pytest -s prints it)."""
    done = sorted(trials(root, sweep), key=lambda t: t.datetime_start)
    t0 = done[0].datetime_start
    return "\n".join(f"  trial {t.number} {t.params} worker {t.user_attrs.get('worker')}: "
                     f"{(t.datetime_start - t0).total_seconds():5.1f}s to {(t.datetime_complete - t0).total_seconds():5.1f}s"
                     for t in done)


def test_two_workers_share_a_study_in_postgres_and_its_password_is_nowhere(runs, db):
    """A grid of four through the database, made with no worker, then two workers joined in the
    foreground at once, as a batch job array's tasks on two machines would: every point runs once,
    each trial is told once, each worker returns when the sweep is done; the URL is recorded
    without the password, and no file under the runs directory (spec, trials, logs, runs,
    checkpoints) holds it."""
    t0 = time.monotonic()
    p = genlab("sweep", "vae", "--grid", "lr=1e-3,2e-3,3e-3,4e-3", "--max-steps", "10", *TINY,
               "--storage", db.url, "--no-worker", "--name", "j", "--runs-dir", runs)
    assert p.returncode == 0 and "no worker yet" in p.stdout, p.stdout + p.stderr
    assert not workers(runs / "j")
    tasks = [subprocess.Popen([*genlab_cmd(), "sweep", "join", "j", "--foreground", "--runs-dir", str(runs)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    for task in tasks:
        said = task.communicate(timeout=240)[0]
        assert task.returncode == 0 and "this worker has ended (exit 0)" in said, said
    assert sweep_state(runs, "j") == "finished"
    wall = time.monotonic() - t0
    assert read_json(runs / "j" / "sweep.json")["storage"] == db.url
    assert not (runs / "j" / "study.journal").exists()  # the study is in the database
    done = trials(runs, "j")
    assert len(done) == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    assert sorted(t.params["lr"] for t in done) == [1e-3, 2e-3, 3e-3, 4e-3]
    assert len({t.user_attrs["run_id"] for t in done}) == 4
    log = (runs / "j" / "log.txt").read_text()
    started = [line.split("trial ")[1].split()[0] for line in log.splitlines() if " started: run " in line]
    assert sorted(started, key=int) == ["0", "1", "2", "3"]  # no trial started twice
    assert log.count(" on sweep j: ") == 2 and len(workers(runs / "j")) == 2  # both reached the study
    data = shown(runs, "j")  # sweep show, in this process, through the URL and PGPASSWORD
    assert data["state"] == "finished" and data["counts"]["complete"] == 4
    assert holding(runs, db.password) == []
    print(f"\ntwo workers, one PostgreSQL study, 4 trials in {wall:.1f}s:\n{timeline(runs, 'j')}")


def test_a_killed_worker_and_a_database_outage_lose_nothing(runs, monkeypatch):
    """On a cluster of its own: the database goes down while a trial runs (the worker warns, in
    its log and in `sweep show`, and waits), comes back (it carries on); then the worker and its
    trial's trainer are SIGKILLed and `sweep resume` takes the trial over: each trial runs once
    and is told once."""
    cluster = Cluster()
    try:
        d = Database(cluster.url)
        monkeypatch.setenv("PGPASSWORD", d.password)
        # (trials long enough to be caught training: a 10-step trial can end between two looks, and
        # on a fast CPU so can a 300-step one; 1,000 steps took 4 s here, 40 looks)
        p = genlab("sweep", "vae", "--grid", "lr=1e-3,2e-3", "--max-steps", "1000", *TINY, "--storage", d.url,
                   "--name", "k", "--runs-dir", runs)
        assert p.returncode == 0, p.stdout + p.stderr
        first = runs / "k-000"
        status = wait_until(lambda: (s := read_json(first / "status.json") or {}).get("state") == "running" and s,
                            what="trial 0 training")
        os.kill(status["pid"], signal.SIGSTOP)  # trial 0 stays unfinished while the rest happens
        cluster.run("down")
        warned = wait_until(lambda: next((w["warning"] for w in workers(runs / "k") if w.get("warning")), None),
                            timeout=60, what="the worker's warning")
        assert warned.startswith(f"the study's storage {d.url} is unreachable") and "retrying every" in warned
        show = CliRunner().invoke(app, ["sweep", "show", "k", "--runs-dir", str(runs)])
        assert show.exit_code == 0 and "is unreachable" in show.output, show.output
        assert "warning: the study's storage" in (runs / "k" / "log.txt").read_text()
        cluster.run("up")
        wait_until(lambda: "answers again" in (runs / "k" / "log.txt").read_text(), timeout=60, what="carrying on")
        worker = next(w for w in workers(runs / "k") if w["live"])
        os.kill(worker["pid"], signal.SIGKILL)
        os.kill(status["pid"], signal.SIGKILL)
        wait_until(lambda: not [w for w in workers(runs / "k") if w["live"]], what="the worker dead")
        r = genlab("sweep", "resume", "k", "--runs-dir", runs)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: sweep_state(runs, "k") == "finished", timeout=240, what="the sweep finished")
        done = trials(runs, "k")
        assert len(done) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in done)
        assert sorted(t.user_attrs["run_id"] for t in done) == ["k-000", "k-001"]
        log = (runs / "k" / "log.txt").read_text()
        assert log.count("started: run k-000") == 1 and log.count("started: run k-001") == 1, log
        assert "trial 0: taken over from" in log and "resuming run k-000" in log, log
        assert log.count("trial 0 complete") == 1 and log.count("trial 1 complete") == 1, log
        assert holding(runs, d.password) == []
    finally:
        cluster.stop()


def test_a_bad_storage_is_one_line_and_leaves_nothing(runs, db, monkeypatch):
    """A password in the URL, a wrong password, a missing database, a server that is not there, a
    URL that is not a database's, a study of that name already there: one line, exit 2, no sweep
    directory (the database is reached before anything is written)."""
    base = urlsplit(db.url)
    dead = f"postgresql://{db.name}@127.0.0.1:1/{db.name}"
    cases = [
        (f"postgresql://{db.name}:{db.password}@{base.netloc.split('@')[1]}/{db.name}", {}, "no password in the URL"),
        (db.url, {"PGPASSWORD": "wrong"}, "password authentication failed"),
        (db.url.rsplit("/", 1)[0] + "/nosuch", {}, 'database "nosuch" does not exist'),
        (dead, {}, "cannot reach the study's database"),
        ("sqlite:///x.db", {}, "give postgresql://USER@HOST[:PORT]/DB"),
    ]
    for url, env, message in cases:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        r = CliRunner().invoke(app, ["sweep", "vae", "--grid", "lr=1e-3", "--max-steps", "5", "--storage", url,
                                     "--runs-dir", str(runs)])
        monkeypatch.setenv("PGPASSWORD", db.password)
        assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (url, r.output)
        assert db.password not in r.output and "wrong" not in r.output
        assert not runs.exists() or not any(runs.iterdir()), (url, list(runs.iterdir()))
    import optuna.storages

    from genlab.sweep.storage import sqlalchemy_url

    optuna.create_study(storage=optuna.storages.RDBStorage(sqlalchemy_url(db.url)), study_name="taken")
    r = CliRunner().invoke(app, ["sweep", "vae", "--grid", "lr=1e-3", "--max-steps", "5", "--storage", db.url,
                                 "--name", "taken", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "already holds a study named 'taken'" in r.output, r.output
    assert not runs.exists() or not any(runs.iterdir())


def test_a_sweep_through_the_grpc_storage_proxy(runs, db, tmp_path):
    """`genlab sweep serve-storage` in front of the database, a sweep with --storage grpc://: its
    worker (which spawns its trials: gRPC does not survive a fork) runs it to the end."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([*genlab_cmd(), "sweep", "serve-storage", "--storage", db.url, "--host", "127.0.0.1",
                               "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        proxy = f"grpc://127.0.0.1:{port}"
        p = genlab("sweep", "vae", "--grid", "lr=1e-3", "--max-steps", "5", *TINY, "--storage", proxy, "--name", "g",
                   "--wait", "--runs-dir", runs, env={"PGPASSWORD": ""})  # the proxy alone holds the password
        assert p.returncode == 0, p.stdout + p.stderr + (tmp_path / "serve.log").read_text()
        assert json.loads((runs / "g" / "sweep.json").read_text())["storage"] == proxy
        done = trials(runs, "g")
        assert [t.state for t in done] == [optuna.trial.TrialState.COMPLETE] and done[0].value is not None
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            server.wait(timeout=20)
        finally:
            server.kill()
            log.close()
    assert "serving the studies of" in (tmp_path / "serve.log").read_text()


def genlab_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "genlab"]


def test_a_storage_call_waits_out_an_outage_and_a_lost_answer_is_not_told_twice(monkeypatch):
    """genlab.sweep.storage.Retrying, on a stand-in storage: a call that fails for an outage
    (SQLAlchemy's OperationalError, as RDBStorage raises it) is tried again, with the warning
    given at each try and None once it answers; a trial's end whose first answer was lost and
    that is found told on the retry counts as told; any other error is the caller's at once."""
    import sqlalchemy.exc
    from optuna.exceptions import UpdateFinishedTrialError

    from genlab.sweep import storage as remote

    monkeypatch.setattr(remote, "RETRY_S", 0.0)
    down = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    class Flaky:
        def __init__(self, failures):
            self.failures = failures

        def get_study_id_from_name(self, name):
            if self.failures:
                self.failures -= 1
                raise down
            return 7

        def set_trial_state_values(self, trial_id, state, values=None):
            if self.failures:
                self.failures -= 1
                raise down
            raise UpdateFinishedTrialError("told already")  # the lost first try had told it

        def get_trial(self, trial_id):
            raise KeyError(trial_id)

    said = []
    store = remote.Retrying(Flaky(2), "postgresql://u@h/db", said.append)
    assert store.get_study_id_from_name("s") == 7
    assert said[:2] == [said[0]] * 2 and said[-1] is None and len(said) == 3
    assert said[0].startswith("the study's storage postgresql://u@h/db is unreachable") and "connection refused" in said[0]
    said.clear()
    store.inner.failures = 1
    assert store.set_trial_state_values(1, optuna.trial.TrialState.COMPLETE, [1.0]) is True and said[-1] is None
    with pytest.raises(UpdateFinishedTrialError):  # with no outage before it, it is the caller's
        store.set_trial_state_values(1, optuna.trial.TrialState.COMPLETE, [1.0])
    with pytest.raises(KeyError):
        store.get_trial(3)
