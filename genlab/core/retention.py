"""Which checkpoints a run keeps: the newest few, and milestones spread over the whole run to
fork from (``genlab fork``).

A run writes a checkpoint every ``checkpoint_every_s`` (5 minutes by default). It keeps:

- the newest ``keep_checkpoints`` (3): what a resume or a rollback after a divergence needs;
- milestones, thinned logarithmically with age: at level ``j`` (``j = 0, 1, 2, ...``) training
  time is cut into slots of ``milestone_every_s * 2**j`` seconds (10 minutes, 20, 40, ...), and
  the first checkpoint of each of the newest ``PER_LEVEL`` slots of that level is kept (none
  before ``milestone_every_s`` of training: a short run keeps only its newest). So the
  last 20 minutes have a milestone every 10 minutes, the 40 before them one every 20, and so on:
  about ``PER_LEVEL * log2(run length / milestone_every_s)`` milestones (16 over a day). The
  first checkpoint of a slot is also the first of the slots below it, so a milestone stays one
  as it ages until its slot is too old for every level: nothing dropped is ever wanted again.
- all of it within ``milestone_budget_mb`` of disk for the milestones (1,000 MB by default; the
  newest ones are kept whatever they take): over it, the milestone that leaves the smallest gap
  between its neighbours goes first, so those left stay spread out.

:func:`which_to_keep` is the policy as a pure function; genlab/core/checkpoint.py applies it
after each save. A checkpoint's training time is known exactly only for the one being saved;
the older ones' is taken in proportion to their step (a run's step rate is steady), so the
policy reads nothing but the directory listing.
"""

from __future__ import annotations

PER_LEVEL = 2  # milestones kept at each level of spacing


def which_to_keep(checkpoints: list[tuple[int, float, int]], keep: int, every_s: float,
                  budget_bytes: float) -> set[int]:
    """The steps to keep of ``checkpoints`` ((step, training seconds, bytes), any order): the
    newest ``keep`` and milestones one per ``every_s`` of training, thinned as they age, their
    bytes within ``budget_bytes``."""
    ordered = sorted(checkpoints)
    if not ordered:
        return set()
    newest = {step for step, _, _ in ordered[-keep:]} if keep > 0 else set()
    now = ordered[-1][1]
    milestones: set[int] = set()
    level = 0
    while every_s > 0:
        width = every_s * 2 ** level
        oldest_slot = int(now // width) - PER_LEVEL + 1  # the newest PER_LEVEL slots of this level
        seen: set[int] = set()
        for step, t, _ in ordered:  # (oldest first: the first of each slot)
            slot = int(t // width)
            if t >= every_s and slot >= oldest_slot and slot not in seen:
                seen.add(slot)
                milestones.add(step)
        if width * PER_LEVEL > now:  # this level's slots reach back to the start: no older level
            break
        level += 1
    milestones -= newest
    size = {step: n for step, _, n in ordered}
    when = {step: t for step, t, _ in ordered}
    kept = sorted(milestones)
    while kept and sum(size[s] for s in kept) > budget_bytes:
        times = [when[s] for s in kept]
        edges = [0.0, *times, now]  # a milestone's gap is its neighbours' distance apart

        def gap(i: int) -> float:
            return edges[i + 2] - edges[i]

        kept.pop(min(range(len(kept)), key=gap))
    return newest | set(kept)
