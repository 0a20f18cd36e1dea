"""Which runs a filter keeps: the one filter of `genlab runs --filter` and the cockpit's `/`.

A filter is terms separated by spaces, all of which a run must match:

- a bare word matches a run whose id, model, state or one of its tags holds it (``gan``,
  ``crash``, ``baseline``; any case);
- ``key=value`` compares a field: ``id`` (a prefix of the run id), ``model``, ``state``, ``tag``
  (one of its tags), ``sweep`` (the sweep it is a trial of), ``health`` (its verdict's name:
  ``healthy``, ``young``, ``mode-collapse``...; genlab/health), else a key of its configuration
  (top level, its model's hyperparameters ``hp``, or a dotted path such as ``data.source``) or a
  metric of its newest status (``d_loss<1.3``). Values compare as numbers when both read as
  numbers (``lr=0.001`` matches ``1e-3``), else as text, any case. ``!=`` negates; ``<``, ``>``,
  ``<=``, ``>=`` compare numbers. A run without the key does not match.

A filter works on a run's row as the listings build it (a dict with ``id``, ``model``, ``state``,
``tags`` and, where known, ``config`` and ``metrics``); a sweep's row is kept when it matches or
one of its trials does (:meth:`Filter.keeps_sweep`). No torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from genlab.errors import UsageError

TERM = re.compile(r"(?P<key>[^<>=!]*)(?P<op><=|>=|!=|=|<|>)(?P<value>.*)")
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
ORDERS = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
SPECIAL = ("id", "model", "state", "tag", "sweep", "health")  # fields of a row, not of its configuration
EXAMPLES = "e.g. 'gan', 'state=running', 'lr=0.001', 'tag=best', 'd_loss<1.3'"


@dataclass(frozen=True)
class Term:
    text: str  # as typed
    key: str = ""  # "" for a bare word
    op: str = ""
    value: str = ""

    def matches(self, row: dict) -> bool:
        tags = [str(t).lower() for t in row.get("tags") or []]
        if not self.key:
            word = self.text.lower()
            return any(word in str(row.get(f) or "").lower() for f in ("id", "model", "state")) or \
                any(word in t for t in tags)
        if self.op == "=" and self.text.lower() in tags:  # a tag that reads like a comparison: "lr=0.001"
            return True
        if self.key == "tag":
            found = self.value.lower() in tags
            return found if self.op == "=" else not found if self.op == "!=" else False
        have = field_of(row, self.key)
        if self.key == "id" and self.op in ("=", "!="):  # a prefix, as run references are
            found = str(have or "").lower().startswith(self.value.lower())
            return found if self.op == "=" else not found
        if have is None:
            return False
        return compare(have, self.op, self.value)


@dataclass(frozen=True)
class Filter:
    text: str
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, row: dict) -> bool:
        """Whether the run's row matches every term (an empty filter matches every run)."""
        return all(t.matches(row) for t in self.terms)

    def keeps_sweep(self, row: dict, trials_kept: int) -> bool:
        """Whether a sweep's row is listed: always without a filter, else when it matches (its id,
        model, state) or any of its trials does."""
        return not self.terms or trials_kept > 0 or self.matches(row)


def parse(text: str | None) -> Filter:
    """The filter ``text`` says; UsageError, in one line, for a term that cannot be read."""
    terms = []
    for word in (text or "").split():
        m = TERM.fullmatch(word)
        if m is None:
            terms.append(Term(word))
            continue
        key, op, value = m["key"], m["op"], m["value"]
        if not key:
            raise UsageError(f"filter term {word!r}: a key before {op!r} ({EXAMPLES})")
        if not KEY.fullmatch(key):
            raise UsageError(f"filter term {word!r}: a key is letters, digits, '_', '.' and '-' ({EXAMPLES})")
        if not value:
            raise UsageError(f"filter term {word!r}: a value after {op!r} ({EXAMPLES})")
        if op in ORDERS and number(value) is None:
            raise UsageError(f"filter term {word!r}: {op!r} compares numbers, and {value!r} is not one")
        terms.append(Term(word, key.lower() if key.lower() in SPECIAL else key, op, value))
    return Filter(" ".join((text or "").split()), tuple(terms))


def field_of(row: dict, key: str):
    """The value the row has for ``key`` (None if it has none)."""
    config = row.get("config") or {}
    if key == "id":
        return row.get("id")
    if key == "state":  # "unreadable: <reason>" is unreadable
        return str(row.get("state") or "").split(":")[0] or None
    if key in ("model", "sweep", "health") and row.get(key) is not None:
        return row.get(key)
    for where in (config, config.get("hp") if isinstance(config.get("hp"), dict) else {}, row.get("metrics") or {}):
        if key in where:
            return where[key]
    found = config
    for part in key.split("."):  # a dotted path: data.source
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def compare(have, op: str, value: str) -> bool:
    a, b = number(have), number(value)
    if op in ORDERS:
        return a is not None and b is not None and ORDERS[op](a, b)
    if a is not None and b is not None:
        same = math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    else:
        same = str(have).lower() == value.lower()
    return same if op == "=" else not same


def number(value) -> float | None:
    """``value`` as a number, if it is one (a bool is not)."""
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
