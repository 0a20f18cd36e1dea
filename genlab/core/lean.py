"""A training process imports only what its run uses: no ``torch._dynamo`` unless it compiles.

PyTorch's optimisers import ``torch._dynamo`` (with sympy and the rest of the compiler: about
half of torch's own import time) on their first step, only to call ``graph_break()`` and
``disable(fn)``; both do nothing outside a compiled region, which is all a run without
``--compile`` ever has. :func:`without_dynamo` puts a stand-in in its place that answers those
two as the real ones do there (a graph break that is nothing; ``fn`` itself). Anything else
asked of it loads the real ``torch._dynamo`` then, which takes its place for good: a process
that compiles later (a test session, ``genlab bench --compile``) gets the real thing.

The numbers do not change: an eager step calls the same functions with or without it (the
exactness and resume tests compare the weights bit for bit).
"""

from __future__ import annotations

import functools
import importlib
import sys
import types

NAME = "torch._dynamo"


class _DynamoStandIn(types.ModuleType):
    """``torch._dynamo`` for a process that compiles nothing (see the module docstring)."""

    @staticmethod
    def graph_break() -> None:
        pass

    def disable(self, fn=None, recursive=True, *, reason=None, wrapping=True):
        """``fn`` as it is while the stand-in is there; the real ``disable(fn)`` once the real
        module has come (torch keeps what this returns on ``fn``, for good)."""
        if fn is None:
            return lambda f: self.disable(f, recursive, reason=reason, wrapping=wrapping)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            if dynamo_loaded():
                return sys.modules[NAME].disable(fn, recursive, reason=reason, wrapping=wrapping)(*args, **kwargs)
            return fn(*args, **kwargs)

        return call

    def __getattr__(self, name: str):
        if name.startswith("__") and name != "__path__":  # (a submodule's import asks for __path__)
            raise AttributeError(name)
        return getattr(real_dynamo(), name)


def without_dynamo() -> None:
    """Keep the real ``torch._dynamo`` out of this process until something other than an eager
    optimiser asks for it. Nothing happens where it is loaded already."""
    if NAME in sys.modules:
        return
    import torch

    stand_in = _DynamoStandIn(NAME)
    sys.modules[NAME] = stand_in
    torch._dynamo = stand_in


def dynamo_loaded() -> bool:
    """Whether the real ``torch._dynamo`` is in this process (what the tests ask)."""
    return NAME in sys.modules and not isinstance(sys.modules[NAME], _DynamoStandIn)


def real_dynamo() -> types.ModuleType:
    """The real ``torch._dynamo``, loaded now in the stand-in's place."""
    import torch

    if isinstance(sys.modules.get(NAME), _DynamoStandIn):
        del sys.modules[NAME]
    module = importlib.import_module(NAME)
    torch._dynamo = module
    return module
