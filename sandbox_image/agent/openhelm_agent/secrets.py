"""A run's per-domain secrets inside the sandbox: placeholders for the model, values for the page.

The model only ever sees ``<secret:NAME>``. :meth:`SecretBook.fill` puts the value in place of the
placeholder when the page (the frame of the field) is on a host the secret's pattern matches, and
refuses otherwise; :meth:`SecretBook.mask` turns every value (also URL- and JSON-encoded) back into
its placeholder in whatever the agent writes or sends: model messages, steps, network log, result,
progress, logs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from openhelm_agent.policy import host_matches

PLACEHOLDER = re.compile(r"<secret:([A-Za-z][A-Za-z0-9_.-]{0,63})>")
# Shorter values are not masked in text: they would garble everything and protect nothing.
MIN_MASKED = 3


class SecretRefused(ValueError):
    """A placeholder that cannot be filled here (unknown name, or a page the pattern does not match)."""


def placeholder(name: str) -> str:
    return f"<secret:{name}>"


@dataclass(frozen=True)
class Secret:
    match: str
    fields: dict[str, str] = field(repr=False)


class SecretBook:
    """The run's secrets (empty book: no secrets, every method is a no-op)."""

    def __init__(self, secrets: Iterable[Secret] = ()) -> None:
        self.secrets = tuple(secrets)
        forms: dict[str, str] = {}
        for secret in self.secrets:
            for name, value in secret.fields.items():
                if len(value) < MIN_MASKED:
                    continue
                for form in (
                    value,
                    json.dumps(value, ensure_ascii=False)[1:-1],
                    json.dumps(value)[1:-1],
                    quote(value, safe=""),
                    quote_plus(value, safe=""),
                ):
                    forms.setdefault(form, placeholder(name))
        # Longest first: a value that contains another is masked whole.
        self._forms = sorted(forms.items(), key=lambda kv: len(kv[0]), reverse=True)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __repr__(self) -> str:
        return f"SecretBook({len(self.secrets)} secrets)"

    def values(self) -> list[str]:
        return [v for s in self.secrets for v in s.fields.values()]

    def has_placeholder(self, text: str) -> bool:
        return bool(PLACEHOLDER.search(text))

    def fill(self, text: str, url: str) -> str:
        """``text`` with every placeholder replaced by its value, if the page at ``url`` may get it.
        SecretRefused (saying why, never the value) otherwise."""
        host = urlsplit(url).hostname or "" if url else ""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            owners = [s for s in self.secrets if name in s.fields]
            if not owners:
                known = ", ".join(placeholder(n) for s in self.secrets for n in s.fields) or "none"
                raise SecretRefused(f"there is no secret {placeholder(name)} in this run; secrets: {known}")
            for secret in owners:
                if host and host_matches(host, secret.match):
                    return secret.fields[name]
            patterns = ", ".join(s.match for s in owners)
            raise SecretRefused(
                f"{placeholder(name)} may only be typed on pages of {patterns}; this field is on "
                f"{host or url or 'an unknown page'}: nothing was typed"
            )

        return PLACEHOLDER.sub(value, text)

    def mask(self, text: str) -> str:
        """``text`` with every value (and its encoded forms) replaced by its placeholder."""
        if not self._forms or not isinstance(text, str):
            return text
        for form, ph in self._forms:
            if form in text:
                text = text.replace(form, ph)
        return text

    def mask_data(self, data: Any, _depth: int = 0) -> Any:
        """``data`` (JSON-like) with :meth:`mask` applied to every string, keys included."""
        if not self._forms:
            return data
        if isinstance(data, str):
            return self.mask(data)
        if _depth > 64:
            return data
        if isinstance(data, dict):
            return {self.mask(k) if isinstance(k, str) else k: self.mask_data(v, _depth + 1) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.mask_data(v, _depth + 1) for v in data]
        return data
