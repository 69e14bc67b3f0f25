"""A leaner rendering of Playwright's AI aria snapshot: what the model reads, in fewer tokens.

Playwright puts ``[ref=…]`` on every node (paragraphs, rows, wrappers), a ``/url:`` line under
every link and ``[cursor=pointer]`` on most of them, nests wrappers that say nothing, and flattens
``<pre>`` blocks into one line. Here, without losing any visible text:

- a ref stays only on elements an action can target (links, buttons, inputs, options of custom
  listboxes, … and elements with a pointer cursor that are not inside one of those), and it is a
  short number ``[12]`` (a :class:`RefMap` keeps the number -> Playwright ref, ``f5e13``, for the
  whole session: a number always means the same element, and one absent from the latest snapshot
  is refused);
- names go unquoted (``link Pricing [12]``) unless a quote is needed to read them back: empty,
  long (the cap shortens quoted names), or holding brackets, quotes, a colon at the end or a
  line break;
- a plain text line that only repeats the accessible name of the control right before or after
  it (a ``<label>``'s text) goes: the control's name says it;
- ``/url:`` lines, ``[cursor=pointer]`` and ``[active]`` go (links stay clickable by ref);
- unnamed wrappers (generic, list, listitem, rowgroup, paragraph, …) are dropped and their
  children move up a level; their text, and text nodes, become plain lines ``- Some text``;
- when every top-level node is a landmark (banner, main, contentinfo, …), each is a section header
  ``main:`` and its content is not indented (landmarks inside it are, as usual);
- a heading is ``h2 Title`` (not ``heading "Title" [level=2]``);
- a table row of plain cells becomes one line of tab-separated cells ``Seats⇥1⇥3⇥∞`` under its
  ``table:`` (``row: …`` outside a table; one-character and empty cells kept);
- a run of sibling links with nothing but a name is one line ``links: Home [1], Docs [2]`` (each
  item ends with its ref, so a comma in a name is not in doubt; wrappers in between, such as list
  items, do not break the run);
- an unnamed link or button whose children are leaf texts is one line
  ``link [6]: img Product 1 photo; h3 Widget Model 1``;
- the options of a ``<select>`` become one line;
- a code block whose text matches a ``<pre>`` of the page gets its line breaks back.

Lines this module does not understand pass through unchanged. The cap (snapshot_cap.py) reads the
``- `` marker of each line; :func:`unmark` drops it afterwards (one token a line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

INTERACTIVE = frozenset(
    {
        "link",
        "button",
        "textbox",
        "searchbox",
        "combobox",
        "checkbox",
        "radio",
        "switch",
        "tab",
        "menuitem",
        "menuitemcheckbox",
        "menuitemradio",
        "option",
        "slider",
        "spinbutton",
        "listbox",
        "treeitem",
        "gridcell",
    }
)
WRAPPERS = frozenset(
    {"generic", "group", "none", "presentation", "rowgroup", "list", "listitem", "paragraph", "article", "section"}
)
# Landmarks at the top level read as section headers (``main:``): their content is not indented.
LANDMARKS = frozenset({"banner", "main", "contentinfo", "complementary", "navigation", "region", "form", "search"})
CELLS = frozenset({"cell", "columnheader", "rowheader", "gridcell"})
TABLES = frozenset({"table", "grid", "treegrid"})
_DROPPED_ATTRS = frozenset({"cursor=pointer", "active"})
_ITEM = re.compile(r"^(?P<indent>\s*)- (?P<body>.*)$")
_NODE = re.compile(
    r'^(?P<role>[^\s"\[:]+)'
    r'(?: "(?P<name>(?:[^"\\]|\\.)*)")?'
    r"(?P<attrs>(?: \[[^\]\n]*\])*)"
    r"(?P<tail>:(?: (?P<value>.*))?)?$"
)
_ATTR = re.compile(r"\[([^\]\n]*)\]")


class RefMap:
    """Short refs the model reads (``12``) for Playwright's aria refs (``f5e13``), kept for a whole
    browser session so that a number never changes its meaning between observations."""

    def __init__(self) -> None:
        self._short: dict[str, str] = {}
        self._aria: dict[str, str] = {}

    def short(self, aria: str) -> str:
        """The short ref of an aria ref (a new number the first time it is seen)."""
        short = self._short.get(aria)
        if short is None:
            short = str(len(self._short) + 1)
            self._short[aria] = short
            self._aria[short] = aria
        return short

    def aria(self, short: str) -> str | None:
        """The aria ref behind a short ref, if it was ever handed out."""
        return self._aria.get(short)


_QUOTE_MAX = 80  # snapshot_cap.MIN_TEXT: longer names stay quoted so the cap can shorten them
_NEEDS_QUOTES = re.compile(r'[\[\]"\n]|:$|^\s|\s$|^\d+$')


@dataclass
class _Node:
    indent: int
    raw: str  # the original line, for anything not understood
    role: str = ""
    name: str | None = None
    attrs: list[str] = field(default_factory=list)
    ref: str | None = None
    value: str | None = None
    prop: tuple[str, str] | None = None  # ("/url", "…"), ("/placeholder", "…")
    parsed: bool = False
    children: list[_Node] = field(default_factory=list)


def _unquote_item(body: str) -> str:
    """YAML single-quoted items: ``'link "a: b" [ref=e1]':`` -> ``link "a: b" [ref=e1]:``."""
    if body.startswith("'"):
        end = body.rfind("'")
        if end > 0 and body[end + 1 :] in ("", ":"):
            return body[1:end].replace("''", "'") + body[end + 1 :]
    return body


def _plain(value: str) -> str:
    """A YAML scalar as text (double-quoted ones decoded)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _parse_line(line: str) -> _Node:
    item = _ITEM.match(line)
    if item is None:
        return _Node(indent=len(line) - len(line.lstrip()), raw=line)
    node = _Node(indent=len(item.group("indent")), raw=line)
    body = _unquote_item(item.group("body"))
    if body.startswith("/"):
        key, _, value = body.partition(": ")
        node.prop = (key.rstrip(":"), _plain(value))
        node.parsed = True
        return node
    match = _NODE.match(body)
    if match is None:
        return node
    node.parsed = True
    node.role = match.group("role")
    node.name = match.group("name")
    for attr in _ATTR.findall(match.group("attrs") or ""):
        if attr.startswith("ref="):
            node.ref = attr[4:]
        elif attr not in _DROPPED_ATTRS:
            node.attrs.append(attr)
    value = match.group("value")
    node.value = _plain(value) if value is not None else None
    return node


def _tree(lines: Iterable[str]) -> list[_Node]:
    roots: list[_Node] = []
    stack: list[_Node] = []
    for line in lines:
        if not line.strip():
            continue
        node = _parse_line(line)
        while stack and stack[-1].indent >= node.indent:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _squash(text: str) -> str:
    return " ".join(text.split())


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name(name: str) -> str:
    """A name as the model reads it: bare where that reads back unambiguously, else quoted."""
    if len(name) > _QUOTE_MAX or _NEEDS_QUOTES.search(name):
        return _quote(name)
    return name


class _Renderer:
    def __init__(self, pre_blocks: Iterable[str], refs: RefMap) -> None:
        self.pre = {_squash(b): b.strip("\n") for b in pre_blocks if b.strip()}
        self.out: list[str] = []
        self.refs = refs
        self.shown: dict[str, str] = {}  # short ref -> aria ref, for the refs this rendering shows
        self.elements: dict[str, tuple[str, str]] = {}  # short ref -> (role, name)
        self.in_table = False
        # Whether top-level landmarks are section headers (only when every top-level node is one, so
        # that where a section ends is never in doubt).
        self.sections = False

    def head(self, node: _Node, keep_ref: bool) -> str:
        text, attrs = node.role, node.attrs
        level = next((a for a in attrs if a.startswith("level=")), None)
        if node.role == "heading" and level is not None and level[6:].isdigit():
            text, attrs = f"h{level[6:]}", [a for a in attrs if a != level]  # `h2 Title`, not `heading … [level=2]`
        if node.name is not None and node.name != "":
            text += " " + _name(node.name)
        for attr in attrs:
            text += f" [{attr}]"
        if keep_ref and node.ref:
            short = self.refs.short(node.ref)
            self.shown[short] = node.ref
            self.elements[short] = (node.role, node.name or "")
            text += f" [{short}]"
        return text

    def emit(self, depth: int, text: str) -> None:
        self.out.append("  " * depth + "- " + text)

    def render(self, nodes: list[_Node], depth: int, in_clickable: bool) -> None:
        run: list[_Node] = []  # consecutive plain links, shown as one ``links:`` line
        nodes = self._flatten(nodes, in_clickable)
        for i, node in enumerate(nodes):
            neighbours = nodes[max(0, i - 1) : i] + nodes[i + 1 : i + 2]
            if any(self._label_of(node, other) for other in neighbours):
                continue
            if not in_clickable and self._plain_link(node):
                run.append(node)
                continue
            self._links(run, depth)
            run = []
            self.node(node, depth, in_clickable)
        self._links(run, depth)

    def _flatten(self, nodes: list[_Node], in_clickable: bool) -> list[_Node]:
        """The nodes with each wrapper that says nothing (see node()) replaced by its children, so
        that links in list items are siblings here."""
        out: list[_Node] = []
        for node in nodes:
            silent = (
                node.parsed
                and node.prop is None
                and node.role in WRAPPERS
                and not node.name
                and not node.attrs
                and node.value is None
                and not (node.ref and "cursor=pointer" in node.raw and not in_clickable)
                and not any(c.prop is not None for c in node.children)
            )
            out.extend(self._flatten(node.children, in_clickable) if silent else [node])
        return out

    @staticmethod
    def _plain_link(node: _Node) -> bool:
        """A named link with a ref and nothing else to say (no attributes, value or children)."""
        return (
            node.parsed
            and node.role == "link"
            and bool(node.ref)
            and bool(node.name)
            and not node.value
            and not [a for a in node.attrs if a not in _DROPPED_ATTRS]
            and all(c.prop is not None and c.prop[0] == "/url" for c in node.children)
        )

    def _links(self, run: list[_Node], depth: int) -> None:
        if len(run) == 1:
            self.node(run[0], depth, False)
        elif run:
            self.emit(depth, "links: " + ", ".join(self.head(n, True)[len("link ") :] for n in run))

    def _leaf_text(self, node: _Node) -> str | None:
        """One child of an unnamed link or button as a phrase (``img Product 1 photo``), or None when
        it needs a line of its own (it has children, a ref, or a code block)."""
        kids = [c for c in node.children if not (c.prop is not None and c.prop[0] == "/url")]
        if not node.parsed or kids or node.prop is not None or node.role in INTERACTIVE:
            return None
        block = self.pre.get(_squash(node.value)) if node.value is not None else None
        if block is not None and "\n" in block:
            return None
        if node.role == "text" or (node.role in WRAPPERS and not node.name and not node.attrs):
            text = node.value or ""
        else:
            text = self.head(node, False) + (f": {node.value}" if node.value is not None else "")
        return text if text and "; " not in text and "\n" not in text else None

    @staticmethod
    def _label_of(node: _Node, following: _Node) -> bool:
        """A plain text line (``- Full name``) saying just the accessible name of the control next to it
        (a label before a text box, after a radio button)."""
        if not node.parsed or node.children or following.role not in INTERACTIVE or not following.name:
            return False
        plain = node.role == "text" or (node.role in WRAPPERS and not node.name and not node.attrs and not node.ref)
        return plain and node.value is not None and _squash(node.value) == _squash(following.name)

    def node(self, node: _Node, depth: int, in_clickable: bool) -> None:
        if not node.parsed:
            self.out.append("  " * depth + node.raw.lstrip())
            self.render(node.children, depth + 1, in_clickable)
            return
        if node.prop is not None:
            key, value = node.prop
            if key != "/url":
                self.emit(depth, f"{key}: {value}")
            return
        pointer = "cursor=pointer" in node.raw
        keep_ref = bool(node.ref) and (node.role in INTERACTIVE or (pointer and not in_clickable))
        clickable = in_clickable or keep_ref
        children = [c for c in node.children if not (c.prop is not None and c.prop[0] == "/url")]
        placeholders = [c for c in children if c.prop is not None and c.prop[0] == "/placeholder"]
        children = [c for c in children if c not in placeholders]
        if node.value is not None:
            block = self.pre.get(_squash(node.value))
            if block is not None and "\n" in block:
                self.emit(depth, f"{self.head(node, keep_ref)}: |")
                pad = "  " * (depth + 1) + "  "
                self.out.extend(pad + line if line else "" for line in block.splitlines())
                return
        if node.role == "text" and not children:
            self.emit(depth, node.value or "")
            return
        if node.role in WRAPPERS and not node.name and not keep_ref and not node.attrs and not placeholders:
            if node.value is not None:
                self.emit(depth, node.value)
            self.render(children, depth, clickable)
            return
        if node.role == "row" and children and all(self._plain_cell(c) for c in children) and not keep_ref:
            cells = [c.name if c.name is not None else (c.value or "") for c in children]
            # In a table the line is a row by where it is; elsewhere (a grid in a list) it says so.
            self.emit(depth, ("" if self.in_table else "row: ") + "\t".join(cells))
            return
        if node.role in TABLES:
            self.emit(depth, self.head(node, keep_ref) + (f": {node.value}" if node.value else ":"))
            was, self.in_table = self.in_table, True
            self.render(children, depth + 1, clickable)
            self.in_table = was
            return
        if keep_ref and not node.name and node.role in INTERACTIVE and children and not placeholders:
            phrases = [self._leaf_text(c) for c in children]
            if all(phrases) and node.value is None:
                self.emit(depth, f"{self.head(node, keep_ref)}: " + "; ".join(p for p in phrases if p))
                return
        if children and all(c.parsed and c.role == "option" and not c.children and not c.ref for c in children):
            options = [(c.name or "") + "".join(f" [{a}]" for a in c.attrs) for c in children]
            self.emit(depth, self.head(node, keep_ref) + ":")
            self.emit(depth + 1, "options: " + " | ".join(options))
            return
        text = self.head(node, keep_ref)
        for placeholder in placeholders:
            text += f" [placeholder={placeholder.prop[1] if placeholder.prop else ''}]"
        if node.value is not None:
            text += f": {node.value}"
        elif children:
            text += ":"
        self.emit(depth, text)
        section = self.sections and depth == 0 and node.role in LANDMARKS and node.value is None
        was, self.sections = self.sections, False  # a landmark inside a section is indented as usual
        self.render(children, depth if section else depth + 1, clickable)
        self.sections = was

    @staticmethod
    def _plain_cell(node: _Node) -> bool:
        text = node.name or node.value or ""
        return node.parsed and node.role in CELLS and not node.children and "\t" not in text and "\n" not in text


@dataclass
class Compacted:
    text: str
    refs: dict[str, str]  # short ref -> aria ref, for every ref the text shows
    elements: dict[str, tuple[str, str]]  # short ref -> (role, name)


def compact(snapshot: str, pre_blocks: Iterable[str] = (), refs: RefMap | None = None) -> Compacted:
    """The leaner rendering of an AI snapshot (``pre_blocks``: the page's ``<pre>`` texts; ``refs``:
    the session's short refs, a fresh map if not given)."""
    renderer = _Renderer(pre_blocks, refs if refs is not None else RefMap())
    roots = _tree(snapshot.splitlines())
    top = renderer._flatten(roots, False)
    renderer.sections = bool(top) and all(
        n.parsed and n.role in LANDMARKS and n.value is None and not n.attrs for n in top
    )
    renderer.render(roots, 0, False)
    return Compacted("\n".join(renderer.out), renderer.shown, renderer.elements)


def compact_snapshot(snapshot: str, pre_blocks: Iterable[str] = (), refs: RefMap | None = None) -> str:
    """The text of :func:`compact`."""
    return compact(snapshot, pre_blocks, refs).text


def unmark(text: str) -> str:
    """The text without the YAML-like ``- `` before each node (one token a line; the indent says the
    nesting). Done after the cap, which reads lines by that marker; code block lines (under a
    ``…: |`` line) stay exactly as the page has them."""
    out: list[str] = []
    block_indent: int | None = None  # the indent of the ``…: |`` line whose block we are in
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None and (not line.strip() or indent > block_indent):
            out.append(line)
            continue
        block_indent = None
        body = line[indent:]
        if body.startswith("- "):
            body = body[2:]
        out.append(line[:indent] + body)
        if line.endswith(": |"):
            block_indent = indent
    return "\n".join(out)
