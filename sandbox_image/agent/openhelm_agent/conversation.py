"""The message history sent to the model, kept bounded.

Only the latest observation is sent in full; each older one shrinks to a single line. Each model
turn (assistant message + its tool results) is a group; beyond ``keep_turns`` groups the oldest are
dropped whole (tool calls and their results stay paired) and replaced by a one-line-per-action
digest, so a long run never grows the prompt without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Turn:
    messages: list[dict[str, Any]] = field(default_factory=list)
    digest: list[str] = field(default_factory=list)


class Conversation:
    def __init__(self, system_prompt: str, task: str, *, keep_turns: int = 20) -> None:
        self._head: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": task},
        ]
        self._turns: list[_Turn] = [_Turn()]
        self._dropped: list[str] = []
        self._keep_turns = max(1, keep_turns)
        self._observation: dict[str, Any] | None = None
        self._observation_brief = ""

    def start_turn(self, assistant_message: dict[str, Any]) -> None:
        self._turns.append(_Turn(messages=[assistant_message]))
        while len(self._turns) > self._keep_turns:
            dropped = self._turns.pop(0)
            self._dropped.extend(dropped.digest)
            if any(m is self._observation for m in dropped.messages):
                # Never lose the current observation: it moves to the front of the oldest kept turn.
                self._turns[0].messages.insert(0, self._observation)  # type: ignore[arg-type]

    def add_tool_result(self, call_id: str, content: str, digest: str, *, name: str | None = None) -> None:
        """A tool's result; with ``name`` (a call the model wrote in its content, not as tool_calls)
        it goes back as a user message naming the tool, since such servers know no ``tool`` role."""
        turn = self._turns[-1]
        if name is not None:
            turn.messages.append({"role": "user", "content": f"Result of {name}: {content}"})
        else:
            turn.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        turn.digest.append(digest)

    def add_user(self, content: str) -> None:
        self._turns[-1].messages.append({"role": "user", "content": content})

    def set_observation(self, full: str, brief: str) -> None:
        """Add the newest observation; the previous one is reduced to its brief line."""
        if self._observation is not None:
            self._observation["content"] = self._observation_brief
        self._observation = {"role": "user", "content": full}
        self._observation_brief = brief
        self._turns[-1].messages.append(self._observation)

    def messages(self) -> list[dict[str, Any]]:
        out = list(self._head)
        if self._dropped:
            digest = "\n".join(self._dropped[-200:])
            out.append({"role": "user", "content": f"Earlier actions (details elided):\n{digest}"})
        for turn in self._turns:
            out.extend(turn.messages)
        return out
