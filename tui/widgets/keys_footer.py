"""The footer, whole at any width: the keys that matter for the screen, never cut.

Each binding's ``description`` is its short form and its ``tooltip``, when it has one, the long
form ("quit" and "quit (runs keep running)"). Wide terminals get the long forms; under
``WIDE`` columns the footer turns compact, takes the short forms and keeps only the screen's
``NARROW_KEYS`` (when it declares them). The keys left out are still bound, in the command
palette (ctrl+p) and in README's keys table.

Its keys are widgets of their own, each styled as it mounts: it composes them again only when
what they show changed (a screen refreshes its bindings more often than that), and it is compact
from the start on a narrow terminal (turning compact restyles every key).
"""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

WIDE = 120  # columns


class KeysFooter(Footer):
    def __init__(self, **kwargs):
        try:
            wide = self.app.size.width >= WIDE
        except Exception:  # (made outside a running app)
            wide = None
        super().__init__(compact=wide is False, **kwargs)
        self.wide: bool | None = wide
        self.composed = None  # what the keys composed show (keys_shown), once composed with them

    def keys_shown(self) -> tuple:
        """What compose shows: the width's form and each binding shown, with whether it is enabled."""
        return (self.app.size.width >= WIDE, getattr(self.screen, "NARROW_KEYS", None),
                tuple((b.key, b.action, b.description, enabled, tooltip)
                      for _, b, enabled, tooltip in self.screen.active_bindings.values() if b.show))

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shown = self.keys_shown()
        if shown != self.composed:
            self.composed = shown
            await super().recompose()

    def compose(self):
        wide = self.app.size.width >= WIDE
        narrow_keys = None if wide else getattr(self.screen, "NARROW_KEYS", None)
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                if narrow_keys is not None and widget.key not in narrow_keys:
                    continue
                if wide and widget.tooltip:
                    widget.description = str(widget.tooltip)
            yield widget

    def on_mount(self) -> None:
        super().on_mount()
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Recompose when the terminal crosses ``WIDE`` columns."""
        wide = self.app.size.width >= WIDE
        if wide != self.wide:
            self.wide = wide
            self.compact = not wide
            self.call_after_refresh(self.recompose)
