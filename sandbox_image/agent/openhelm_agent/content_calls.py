"""Tool calls written into the message content, as open models do behind servers without a tool parser.

Stock llama.cpp (no ``--jinja``), Ollama and vLLM without ``--tool-call-parser`` hand back what the
model wrote; Qwen2.5 writes ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, other
models a fenced ```json block or a bare JSON object. These are recognised here so such a reply is
an action rather than a lost step. Only objects naming a known tool count: a model quoting JSON
from the page is not a tool call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json|tool_call|tool)?\s*\n?(.*?)```", re.S | re.I)
# Keys that hold the arguments, by model family (OpenAI-style, Llama 3 "parameters", others).
_ARG_KEYS = ("arguments", "parameters", "args", "input")


def _objects(text: str) -> Iterator[Any]:
    """Every JSON value that starts at a ``{`` or ``[`` of ``text`` and parses (outermost first)."""
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            yield value
            i = end
        else:
            i += 1


def _as_call(value: Any, known: Iterable[str]) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):  # {"type": "function", "function": {...}}
        value = value["function"]
    name = value.get("name") or value.get("tool") or value.get("action")
    if not isinstance(name, str) or name not in known:
        return None
    args: Any = {}
    for key in _ARG_KEYS:
        if key in value:
            args = value[key]
            break
    if isinstance(args, str):  # arguments double-encoded, OpenAI-style
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return name, args
    return name, json.dumps(args, ensure_ascii=False)


def _calls_in(values: Iterable[Any], known: set[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            call = _as_call(item, known)
            if call is not None:
                out.append(call)
    return out


def calls_from_content(content: str | None, known: Iterable[str]) -> list[tuple[str, str]]:
    """(tool name, JSON arguments) of each tool call written in ``content``; [] if there is none.

    Tried in order, the first form that yields a call wins: ``<tool_call>`` tags, fenced code
    blocks, then any JSON object in the text.
    """
    if not content or "{" not in content:
        return []
    names = set(known)
    for pattern in (_TAGGED, _FENCED):
        blocks = pattern.findall(content)
        if blocks:
            calls = _calls_in((v for block in blocks for v in _objects(block)), names)
            if calls:
                return calls
    return _calls_in(_objects(content), names)
