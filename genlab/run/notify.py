"""Alerts that reach a person away from the terminal: ``--notify URL`` and ``--notify-when EXPR``.

Messages go through Apprise (Slack, Discord, Telegram, e-mail, ntfy, Matrix, JSON webhooks and
about a hundred more, each named by a URL). They are the reader's view of a run, not the
trainer's: a :class:`Notifier` is a thread in the training process that follows its own run
directory with :class:`genlab.run.follow.RunFollower` every few seconds, as the cockpit does,
and tells what changed: the run's end (finished, failed, stopped, diverged, pruned), a pause by
divergence, a change of verdict (training health, ``RunView.health``), and a figure crossing a
threshold the user gave. It never touches the training's random streams (genlab's training
draws nothing from Python's ``random``, the one stream a library may use) and never slows a step
(its work and its deliveries are on its own thread); its last poll, when the run ends, is sent
before the process exits, with a bounded wait. A message that cannot be delivered is told back
(``warn``: a ``warning`` event of the run), never a failed run.

The URLs may hold secrets (tokens, passwords): they are shown only as their scheme and host
(:func:`shown_url`), never written into events, logs or config.json, and travel to a detached
training process in its environment (:data:`ENV`, readable by its owner only), never on its
command line. A resume takes ``--notify`` again.

:class:`Changes` is the same judgement for the cockpit: which changes of a run it shows are worth
its bell and a toast. Apprise is imported only where a message is sent or a URL checked.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from genlab.errors import UsageError
from genlab.health import Verdict
from genlab.run.follow import RunFollower, RunView
from genlab.run.state import RunState

ENV = "_GENLAB_NOTIFY"  # the alerts handed to a detached process (JSON), never on its command line
EVERY_S = 2.0  # how often the notifier reads its run
FINAL_WAIT_S = 10.0  # at the run's end, how long the last messages may take to go out
OPS = {"<": lambda x, v: x < v, "<=": lambda x, v: x <= v, ">": lambda x, v: x > v, ">=": lambda x, v: x >= v}
EXPR = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Threshold:
    """``--notify-when test_fld<20``: a message when the figure crosses into the condition
    (once per crossing: it must leave it before it is told again)."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        m = EXPR.match(text or "")
        try:
            value = float(m.group(3)) if m else math.nan
        except ValueError:
            value = math.nan
        if m is None or not math.isfinite(value):
            raise UsageError(f"--notify-when {text!r}: write METRIC<NUMBER (or <=, >, >=), e.g. test_fld<20")
        return cls(m.group(1), m.group(2), value)

    def holds(self, x: float) -> bool:
        return OPS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def metric_names(shows) -> set[str]:
    """Every figure a model's view (genlab.view.View) names: its metrics and its panes'."""
    return ({m.name for m in shows.metrics} | {n for p in shows.panes for n in (*p.train, *p.held_out)}
            | {shows.key, shows.quality} - {""})


def shown_url(url: str) -> str:
    """A notification URL as it may be shown: its scheme and host, e.g. ``json://127.0.0.1:8080/…``
    (Apprise's own privacy form underneath, so a token that is a URL's host shows as ``1...p``)."""
    scheme, sep, rest = str(url).partition("://")
    if not sep:
        return "(not a URL)"
    try:
        import apprise

        service = apprise.Apprise.instantiate(url)
        private = service.url(privacy=True) if service is not None else None
    except Exception:
        private = None
    if private is None:
        return f"{scheme}://…"
    host = private.partition("://")[2].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"


def redacted_argv(argv: list[str]) -> list[str]:
    """A command line as a run records it (config.json's ``argv``): each --notify URL as shown."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--notify" and i + 1 < len(out):
            out[i + 1] = shown_url(out[i + 1])
        elif arg.startswith("--notify="):
            out[i] = "--notify=" + shown_url(arg.partition("=")[2])
    return out


@dataclass(frozen=True)
class Alerts:
    """Where messages go (Apprise URLs) and the thresholds that send one."""

    urls: tuple[str, ...]
    when: tuple[Threshold, ...] = ()

    @classmethod
    def parse(cls, urls: list[str] | None, when: list[str] | None = None, views: dict | None = None) -> Alerts | None:
        """The options as given, checked before anything starts (UsageError: one line); None
        without ``--notify``. ``views``: model name -> its View, whose figures a threshold must name."""
        urls, thresholds = [u.strip() for u in urls or []], [Threshold.parse(w) for w in when or []]
        if not urls:
            if thresholds:
                raise UsageError("--notify-when needs --notify URL: where the message goes")
            return None
        import apprise

        for url in urls:
            if apprise.Apprise.instantiate(url) is None:
                raise UsageError(f"--notify {shown_url(url)}: not a URL Apprise can send to "
                                 "(see https://github.com/caronc/apprise/wiki, e.g. json://HOST:PORT/PATH)")
        for model, shows in (views or {}).items():
            known = metric_names(shows)
            for t in thresholds:
                if t.metric not in known:
                    raise UsageError(f"--notify-when {t}: {model} records no {t.metric!r}; its figures: "
                                     f"{', '.join(sorted(known))}")
        return cls(tuple(urls), tuple(thresholds))

    def to_env(self) -> str:
        return json.dumps({"urls": list(self.urls), "when": [str(t) for t in self.when]})

    @classmethod
    def from_env(cls, environ=os.environ) -> Alerts | None:
        """What a process that started this one handed on (:data:`ENV`), or None."""
        raw = environ.get(ENV)
        if not raw:
            return None
        try:
            got = json.loads(raw)
            return cls(tuple(map(str, got["urls"])), tuple(Threshold.parse(w) for w in got.get("when", [])))
        except (ValueError, KeyError, TypeError, UsageError):
            return None


    def described(self) -> str:
        """One line for the run's log: where messages go, and when (the URLs as shown only)."""
        when = "; and when " + ", ".join(map(str, self.when)) if self.when else ""
        return (f"notifying {', '.join(map(shown_url, self.urls))} of its end, a divergence and a change of "
                f"verdict{when}")


@contextmanager
def handed_on(alerts: Alerts | None):
    """While in it, the processes this one starts (a detached run, the ranks of a run, a sweep's
    worker and so its trials) get ``alerts`` in their environment (:data:`ENV`); nothing without."""
    if alerts is None:
        yield
        return
    before = os.environ.get(ENV)
    os.environ[ENV] = alerts.to_env()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


class Delivery:
    """Sends a message to every URL (an Apprise object each, so a failure names its URL)."""

    def __init__(self, urls: tuple[str, ...]):
        import apprise

        self.services = []
        for url in urls:
            service = apprise.Apprise()
            service.add(url)
            self.services.append((shown_url(url), service, secrets_of(url)))

    def send(self, title: str, body: str, kind: str = "info") -> list[str]:
        """Problems, one line for each URL it could not deliver to (none when all went)."""
        problems = []
        for shown, service, secrets in self.services:
            try:
                result = service.notify(body=body, title=title, notify_type=kind)
                if result:
                    continue
                problem = reason_of(result)
            except Exception as e:  # a plugin's own error: told, never raised
                problem = f"{e.__class__.__name__}: {e}"
            for secret in secrets:  # whatever of the URL a plugin's words might repeat
                problem = problem.replace(secret, "…")
            problems.append(f"notification to {shown} not delivered: {problem}"[:300])
        return problems


def secrets_of(url: str) -> list[str]:
    """The parts of a URL that may be secret (user, password, host, path, query), longest first;
    not what :func:`shown_url` shows of it."""
    rest = url.partition("://")[2]
    userinfo, _, tail = rest.rpartition("@")
    parts = re.split(r"[/:?&=#@]", userinfo) + re.split(r"[/?&=#:]", tail)
    shown = shown_url(url)
    return sorted({p for p in parts if len(p) > 3 and p not in shown}, key=len, reverse=True)


def reason_of(result) -> str:
    """Why Apprise did not deliver: its first warning or error, where its version says."""
    try:
        for entry in result.logs():
            if getattr(entry, "level", "") in ("WARNING", "ERROR", "CRITICAL"):
                return str(entry.message)
    except Exception:
        pass
    return "the service refused it or could not be reached"


# --------------------------------------------------------------------------- what is worth telling


def state_news(state: str, reason: str | None) -> tuple[str, str] | None:
    """(what happened, its Apprise kind) for a run that reached ``state``, if a person away from
    it wants to know: its end, and a pause by divergence (a pause asked for is not news)."""
    reason = reason or ""
    if state == RunState.FINISHED:
        return "finished", "success"
    if state == RunState.FAILED:
        return f"failed: {reason or 'no reason recorded'}", "failure"
    if state == RunState.STOPPED:
        if reason.startswith("diverged"):
            return f"diverged and stopped ({reason.removeprefix('diverged').lstrip(': ') or 'a non-finite loss'})", \
                "failure"
        if reason.startswith("pruned"):
            return reason, "warning"
        return f"stopped ({reason or 'stopped by request'})", "info"
    if state == RunState.PAUSED and reason.startswith("diverged"):
        return (f"paused by divergence ({reason.removeprefix('diverged').lstrip(': ') or 'a non-finite loss'}); "
                "a resume rolls back to its last good checkpoint"), "failure"
    if state in (RunState.CRASHED, RunState.STALLED):
        return state, "failure"
    return None


def verdict_news(before: Verdict | None, after: Verdict | None) -> tuple[str, str] | None:
    """(what happened, its Apprise kind) when the verdict changed in a way worth telling: into a
    warning or a bad verdict, or back to healthy from one (a young run becoming healthy is not)."""
    if after is None or (before is not None and before.name == after.name):
        return None
    if after.severity in ("warn", "bad"):
        return f"health: {after.line()}", "failure" if after.severity == "bad" else "warning"
    if before is not None and before.severity in ("warn", "bad") and after.severity == "ok":
        return f"health: {after.line()} (was: {before.title})", "success"
    return None


def message(run_id: str, model: str, step: int, what: str) -> tuple[str, str]:
    """(title, body) of a message: the run, its model, the step, what happened, how to look."""
    return (f"genlab: {run_id} {what.split(':')[0].split(' (')[0]}",
            f"run {run_id} ({model or '?'}) at step {step:,}: {what}\nlook: genlab show {run_id}")


class Changes:
    """What a viewer of several runs (the cockpit) has seen of each, and what changed since that
    is worth a person's attention: a run that ended, paused or crashed, or whose verdict changed.
    The first sight of a run is only noted."""

    QUIET = {RunState.RUNNING, RunState.STARTING, RunState.UNKNOWN, RunState.UNREADABLE, "deleted"}

    def __init__(self):
        self.seen: dict[str, tuple[str, Verdict | None]] = {}

    def see(self, run_id: str, state: str, health=None) -> str | None:
        """One line for a toast when ``run_id``'s state or verdict changed since last seen."""
        health = health if isinstance(health, Verdict) else None
        before = self.seen.get(run_id)
        self.seen[run_id] = (str(state), health)
        if before is None:
            return None
        said = []
        if str(state) != before[0] and str(state) not in self.QUIET:
            said.append(f"{run_id} {state}")
        news = verdict_news(before[1], health)
        if news is not None:
            said.append(f"{run_id} {news[0]}")
        return "; ".join(said) or None


# --------------------------------------------------------------------------- the notifier


class Notifier:
    """Follows a run from inside its training process and sends what changed (module docstring).
    ``warn(text)`` is how a message it could not deliver is told (called from its thread: the
    training process's Emitter.post queues it for the training thread)."""

    def __init__(self, run_dir: Path, alerts: Alerts, warn: Callable[[str], None], every_s: float = EVERY_S,
                 delivery=None):
        self.alerts, self.warn, self.every_s = alerts, warn, every_s
        self.delivery = delivery if delivery is not None else Delivery(alerts.urls)
        self.follower = RunFollower(run_dir)
        self.last_event: dict | None = None  # the newest event already looked at
        self.health: Verdict | None = None
        self.holding: dict[Threshold, bool] = {}  # whether each threshold's condition holds now
        self.evals_read: dict[str, int] = {}  # held-out points of each figure already looked at
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> Notifier:
        """What the run holds already is only noted (a resumed run's past is not news); then the
        thread follows it."""
        self.check()  # (its messages dropped)
        self.thread = threading.Thread(target=self._follow, name="genlab-notifier", daemon=True)
        self.thread.start()
        return self

    def close(self, wait_s: float = FINAL_WAIT_S) -> None:
        """The last poll (the run's end), sent, within ``wait_s``."""
        if self.thread is None:
            return
        self.stopping.set()
        self.thread.join(wait_s)
        if self.thread.is_alive():
            self.warn(f"notifications: the last messages were still being sent after {wait_s:g}s; not waiting for them")
        self.thread = None

    def _follow(self) -> None:
        while not self.stopping.wait(self.every_s):
            self._round()
        self._round()

    def _round(self) -> None:
        try:
            for title, body, kind in self.check():
                for problem in self.delivery.send(title, body, kind):
                    self.warn(problem)
        except Exception as e:  # the contract: notifications never fail the run
            self.warn(f"notifications: {e.__class__.__name__}: {e}"[:300])

    def check(self) -> list[tuple[str, str, str]]:
        """Read what the run wrote since the last look: the messages it calls for (title, body,
        Apprise kind)."""
        v = self.follower.poll()
        model = str(v.config.get("model", "")) if isinstance(v.config, dict) else ""
        step = int(v.status.get("step", 0) or 0) if isinstance(v.status, dict) else 0
        news = self._crossings(v, step)  # (step, what, kind): figures, the verdict, then the state
        said = verdict_news(self.health, v.health)
        if v.health is not None:
            self.health = v.health
        if said:
            news.append((step, *said))
        for e in self._new_events(v):
            if e.get("kind") == "state":
                said = state_news(str(e.get("state")), e.get("reason"))
                if said:
                    news.append((int(e.get("step", 0)), *said))
        news.sort(key=lambda n: n[0])  # in the order of their steps (an end after what led to it)
        run_id = str(v.config.get("run_id") or v.run_id) if isinstance(v.config, dict) else v.run_id
        return [(*message(run_id, model, s, what), kind) for s, what, kind in news]

    def _new_events(self, v: RunView) -> list[dict]:
        events = v.events
        if not events:
            return []
        new = events
        if self.last_event is not None:
            at = next((i for i in range(len(events) - 1, -1, -1) if events[i] is self.last_event), None)
            if at is not None:
                new = events[at + 1:]
            else:  # (more events than the follower keeps since, or it read the run again after a cut)
                t = self.last_event.get("t", 0)
                new = [e for e in events if e.get("t", 0) > t]
        self.last_event = events[-1]
        return new

    def _crossings(self, v: RunView, step: int) -> list[tuple[int, str, str]]:
        news = []
        for t in self.alerts.when:
            points = v.evals.get(t.metric)
            if points is not None:  # held-out figures: every point since the last look, in order
                seen = self.evals_read.get(t.metric, 0)
                seen = 0 if seen > len(points) else seen
                new, self.evals_read[t.metric] = points[seen:], len(points)
            else:
                value = v.latest.get(t.metric)
                new = [(step, value)] if isinstance(value, (int, float)) and math.isfinite(value) else []
            for at, value in new:
                holds = t.holds(value)
                if holds and not self.holding.get(t, False):
                    news.append((at, f"{t.metric} {value:.4g} crossed {t.op} {t.value:g}", "warning"))
                self.holding[t] = holds
        return news


def sweep_ended(sweep_dir: Path, end: str, alerts: Alerts, delivery=None) -> list[str]:
    """The message of a sweep's end (its worker sends it when its loop ends): how its trials
    ended and the best one. Problems, one line each, for what could not be delivered."""
    from genlab.run.sweeps import summary

    s = summary(sweep_dir)
    c, best = s["counts"], s["best"]
    line = (f"sweep {s['id']} ({s['model']}) {end}: {c['complete']} complete, {c['pruned']} pruned, "
            f"{c['fail']} failed of {s['trials']}")
    if best and isinstance(best.get("value"), (int, float)):
        line += f"; best: trial {best.get('number')} (run {best.get('run_id')}) {s['objective']} {best['value']:.4g}"
    delivery = delivery if delivery is not None else Delivery(alerts.urls)
    return delivery.send(f"genlab: sweep {s['id']} {end}", f"{line}\nlook: genlab sweep show {s['id']}",
                         "success" if end == "finished" else "info")
