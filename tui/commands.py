"""The command palette's screen actions (ctrl+p), beside Textual's own (theme, keys, quit).

Each command is one of the active screen's key bindings, read from the screen itself (its
BINDINGS as the footer shows them, so an action exists once: as a key, and as this command),
named by the binding's tooltip or description (capitalised, as Textual's own), its key as the help line. A run-control command is
offered only when the run's state allows it (genlab.run.state.RunState, as for the keys and for
`genlab pause|resume|stop`). Besides the keys, a screen showing one run offers "Export": its
metrics to a CSV file, written by a `genlab export` process (GenlabApp.export_run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from genlab.run.state import RunState
from tui.screens.dashboard import Dashboard
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable

# the dashboard's run-control actions and the states they act in (else not offered)
ALLOWED_IN: dict[str, Callable[[RunState], bool]] = {
    "pause_resume": lambda s: s.can_pause or s.resumes_in_place,
    "stop_run": lambda s: s.can_stop,
    "resume_run": lambda s: s.can_resume,
}
# Textual's own: quit is among its commands, and every screen's focus and copy keys are not this screen's
LEFT_TO_TEXTUAL = {"app.quit", "quit", *(b.action for b in Binding.make_bindings(Screen.BINDINGS))}


@dataclass
class Command:
    name: str
    help: str
    run: Callable[[], object]


def screen_commands(screen: Screen) -> Iterator[Command]:
    """The commands of ``screen``: its own key bindings (enabled ones, with a description; those
    in its footer first), then "Export" where it shows one run."""
    state = RunState.of(screen.state) if isinstance(screen, Dashboard) else None
    seen = set()
    footer_first = sorted(screen.active_bindings.items(), key=lambda item: not item[1].binding.show)
    for key, active in footer_first:
        binding = active.binding
        if active.node is not screen or not active.enabled or not binding.description:
            continue
        if binding.action in LEFT_TO_TEXTUAL or binding.action in seen:
            continue
        allowed = ALLOWED_IN.get(binding.action)
        if allowed is not None and state is not None and not allowed(state):
            continue
        seen.add(binding.action)
        words = binding.tooltip or binding.description  # the long form where the footer shows a short one
        name = words[0].upper() + words[1:]  # as Textual's own read: "Pause/resume"
        yield Command(name, f"key {screen.app.get_key_display(binding)}",
                      partial(screen.app.run_action, binding.action, screen))
    run_id = shown_run(screen)
    if run_id is not None:
        yield Command("Export", f"{run_id}'s metrics to ./{run_id}.csv (genlab export)",
                      partial(screen.app.export_run, run_id))


def shown_run(screen: Screen) -> str | None:
    """The run a screen shows or points at: a dashboard's, the runs table's selected run."""
    if isinstance(screen, Dashboard):
        return screen.run_id
    if isinstance(screen, RunsScreen):
        selected = screen.query_one(RunsTable).selected_run()
        return selected if selected and not selected.startswith("sweep:") else None
    return None


class ScreenActions(Provider):
    """The active screen's actions as palette commands."""

    async def discover(self) -> Hits:
        for c in screen_commands(self.screen):
            yield DiscoveryHit(c.name, c.run, help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in screen_commands(self.screen):
            score = matcher.match(c.name)
            if score > 0:
                yield Hit(score, matcher.highlight(c.name), c.run, help=c.help)
