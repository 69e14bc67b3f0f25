"""Telling a model that repeats an action which changed nothing (small open models loop on one click or
one extract until the steps run out: the eval's form-quote, iframe-wind and login-balance runs)."""

from __future__ import annotations

import json
from dataclasses import dataclass

REPEATED = (
    "You did exactly this in your previous step and the page did not change, so repeating it will not "
    "help. Do something else: fill in or select the fields the page needs first (type, select), follow "
    "another link, or call done if the snapshot already shows the answer."
)

REPEATED_EXTRACT = (
    "You asked for exactly this in your previous step and the page did not change, so the text above is "
    "all there is: if it holds the answer, call done with it now; otherwise open another page, or ask "
    "for a different part or a shorter query."
)


def _canonical(name: str, arguments: str | dict | None) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return f"{name} {arguments.strip()}"
    return f"{name} {json.dumps(arguments, sort_keys=True, ensure_ascii=False)}"


@dataclass
class RepeatWatch:
    """The previous browser action and the page it was taken on."""

    _call: str = ""
    _page: str | None = None

    def note(self, name: str, arguments: str | dict | None, page_before: str | None) -> str:
        """``REPEATED`` when this call is the previous one again on an unchanged page, else ""."""
        call = _canonical(name, arguments)
        repeated = page_before is not None and call == self._call and page_before == self._page
        self._call, self._page = call, page_before
        if not repeated:
            return ""
        return REPEATED_EXTRACT if name == "extract" else REPEATED
