"""Session mode: one long-lived agent process that keeps Chromium (one context: its cookies and tabs)
open and executes the commands the control plane pushes into its mailbox (docs/sessions.md).

The mailbox is a directory the sandbox provider writes (``OPENHELM_MAILBOX``; read-only in here):
one JSON file per command, named by the command's sortable id, written atomically. Nothing in the
sandbox calls the API to ask for work: a watcher thread reads the directory; control commands
(pause, resume, stop) take effect at once, the rest run in order on the main thread (Playwright's sync
API belongs to the thread that started it). Every command gets a reply file,
``<out>/replies/<id>.json``, which the control plane reads through the provider.

Commands: ``action`` (a direct browser action, session_actions.py), ``task`` (a run: its spec and its
own per-run token, secrets and files; it ends with the usual completion callback), ``pause`` /
``resume`` / ``stop`` (of the running task), ``save_profile`` (the context's storage_state, at a
graceful close of a session with ``persist_profile``) and ``close``.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openhelm_agent.browser import BrowserSession, launched_browser, page_url, safe_title, short_error
from openhelm_agent.callback import COMPLETION_FD_ENV, post_json
from openhelm_agent.clock import Deadline
from openhelm_agent.errors import AgentFailure, ErrorCode
from openhelm_agent.evidence import EvidenceWriter
from openhelm_agent.live import LiveView
from openhelm_agent.llm import LLMClient
from openhelm_agent.log import get_logger
from openhelm_agent.loop import AgentRun
from openhelm_agent.options import AgentOptions
from openhelm_agent.policy import DomainPolicy
from openhelm_agent.run import run_agent
from openhelm_agent.session_actions import ActionRunner

log = get_logger("openhelm_agent.serve")

MAILBOX_ENV = "OPENHELM_MAILBOX"
POLL_S = 0.02
PAUSE_BEAT_S = 60.0
MAX_COMMAND_BYTES = 512 * 1024
PROFILE_STATE_PATH = "session/storage_state.json"
# The gateway pins a session call's model (the org's default); this name is only what the client sends.
SESSION_MODEL = "default"


class SessionSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mode: Literal["session"]
    session_id: str = Field(min_length=1, max_length=200)
    start_url: str | None = None
    allowed_domains: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)
    # The session's browser profile (Playwright storage_state) its context starts with.
    storage_state: dict[str, Any] | None = Field(default=None, repr=False)

    def policy(self) -> DomainPolicy:
        return DomainPolicy.from_lists(self.allowed_domains, self.blocked_domains)


class TaskStopped(AgentFailure):
    """The control plane stopped the task (its run is already ``cancelled``)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.AGENT_CRASHED, "stopped by request")


class TaskControl:
    """Pause / resume / stop of the running task, set by the watcher thread, obeyed between steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.run_id: str | None = None
        self._paused = threading.Event()
        self._stopped: set[str] = set()
        # What a person did while they had control (a resume after a take-over): for the next step.
        self.note: str | None = None

    def begin(self, run_id: str) -> None:
        with self._lock:
            self.run_id = run_id
            self._paused.clear()

    def end(self) -> None:
        with self._lock:
            self.run_id = None
            self._paused.clear()

    def apply(self, kind: str, run_id: str | None, note: str | None = None) -> str | None:
        """Apply a control command; an error text if it does not fit the running task."""
        with self._lock:
            if kind == "stop" and run_id:
                self._stopped.add(run_id)  # a stop that overtakes its task's start still counts
                if run_id == self.run_id:
                    self._paused.clear()
                return None
            if self.run_id is None or (run_id and run_id != self.run_id):
                return "no such task is running"
            if kind == "pause":
                self._paused.set()
            elif kind == "resume":
                if note:
                    self.note = note
                self._paused.clear()
            return None

    def take_note(self) -> str | None:
        with self._lock:
            note, self.note = self.note, None
            return note

    def stopped(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._stopped

    def checkpoint(
        self, run_id: str, deadline: Deadline, while_paused: Callable[[], None], beat: Callable[[], None]
    ) -> None:
        """Between steps: raise TaskStopped if stopped; block while paused (the task's own clock
        stands still: the deadline moves by the time paused), serving direct actions meanwhile, and
        calling ``beat`` every PAUSE_BEAT_S (a progress report: the run's execution waits on a task
        token with a heartbeat, which a long pause must keep alive)."""
        if self.stopped(run_id):
            raise TaskStopped()
        if not self._paused.is_set():
            return
        paused_at = last_beat = time.monotonic()
        log.info("task paused", extra={"run_id": run_id})
        while self._paused.is_set() and not self.stopped(run_id):
            while_paused()
            if time.monotonic() - last_beat >= PAUSE_BEAT_S:
                beat()
                last_beat = time.monotonic()
        deadline.at += time.monotonic() - paused_at
        log.info("task resumed", extra={"run_id": run_id, "paused_s": round(time.monotonic() - paused_at, 3)})
        if self.stopped(run_id):
            raise TaskStopped()


class Mailbox:
    """Reads command files in name order, each once. A file that does not parse yet is tried again
    for a while (a provider whose writes are not atomic, such as E2B's files.write, may show half)."""

    def __init__(self, path: str | Path, settle_s: float = 5.0) -> None:
        self.path = Path(path)
        self._seen: set[str] = set()
        self._first_bad: dict[str, float] = {}
        self.settle_s = settle_s

    def new_commands(self) -> list[dict[str, Any]]:
        try:
            names = sorted(n for n in os.listdir(self.path) if n.endswith(".json") and n not in self._seen)
        except OSError:
            return []
        commands = []
        for name in names:
            try:
                raw = (self.path / name).read_bytes()[:MAX_COMMAND_BYTES]
                command = json.loads(raw)
            except (OSError, ValueError) as exc:
                first = self._first_bad.setdefault(name, time.monotonic())
                if time.monotonic() - first < self.settle_s:
                    break  # keep the order: nothing after it runs before it
                log.warning("unreadable command", extra={"file": name, "error": str(exc)})
                command = None
            self._seen.add(name)
            self._first_bad.pop(name, None)
            if isinstance(command, dict) and isinstance(command.get("id"), str):
                commands.append(command)
        return commands


class SessionServer:
    def __init__(
        self,
        spec: SessionSpec,
        out_dir: str | Path,
        mailbox: str | Path,
        control_url: str,
        token: str,
        options: AgentOptions,
    ) -> None:
        self.spec = spec
        self.out_dir = Path(out_dir)
        self.replies = self.out_dir / "replies"
        self.replies.mkdir(parents=True, exist_ok=True)
        self.mailbox = Mailbox(mailbox)
        self.control_url = control_url.rstrip("/")
        self.token = token
        self.options = options
        self.control = TaskControl()
        self.work: queue.Queue[dict[str, Any]] = queue.Queue()
        self.deferred: list[dict[str, Any]] = []
        self.closing = threading.Event()
        self.evidence = EvidenceWriter(self.out_dir / "session")
        self.actions: ActionRunner | None = None
        # The live view's frame source (live.py), when the provider gave this sandbox one.
        self.live: LiveView | None = None
        self._session: BrowserSession | None = None

    # -- replies -------------------------------------------------------------------------------
    def reply(self, command_id: str, body: dict[str, Any]) -> None:
        path = self.replies / f"{command_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"id": command_id, **body}, default=str, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    # -- the watcher thread ---------------------------------------------------------------------
    def watch(self) -> None:
        while not self.closing.is_set():
            for command in self.mailbox.new_commands():
                kind = command.get("kind")
                if kind in ("pause", "resume", "stop"):
                    error = self.control.apply(kind, command.get("run_id"), command.get("note"))
                    self.reply(command["id"], {"ok": error is None, "error": error})
                else:
                    self.work.put(command)
            time.sleep(POLL_S)

    # -- the main thread ------------------------------------------------------------------------
    def serve(self) -> int:
        # A session's tasks hand in their completions one by one; the supervisor's "completed" pipe
        # is for a one-run agent, whose exit after the completion is expected. Not ours.
        os.environ.pop(COMPLETION_FD_ENV, None)
        threading.Thread(target=self.watch, name="mailbox", daemon=True).start()
        with launched_browser(self.options.chromium_path, self.options.browser_proxy) as browser:
            session = BrowserSession(
                browser,
                self.spec.policy(),
                self.evidence,
                proxied=self.options.browser_proxy is not None,
                storage_state=self.spec.storage_state,
            )
            try:
                self.actions = ActionRunner(
                    session, self.evidence, action_timeout_s=self.options.action_timeout_s, llm=self._session_llm
                )
                if self.spec.start_url:
                    self.actions.run("navigate", {"url": self.spec.start_url})
                self._session = session
                if self.live is not None:
                    self.live.screencast.attach(session.page)
                self._ready(session)
                while not self.closing.is_set():
                    command = self.deferred.pop(0) if self.deferred else self._next(1.0)
                    if command is not None:
                        self._handle(command, session)
            finally:
                self.closing.set()
                self._session = None
                if self.live is not None:
                    self.live.screencast.detach()
                session.close()
        return 0

    def _session_llm(self) -> LLMClient:
        """The model for the session's own calls (an extract with a schema): the LLM gateway on the
        session's token, which pins the model and counts the tokens into the session. Asked once."""
        base_url = self.options.llm_base_url or f"{self.control_url}/internal/llm/v1"
        return LLMClient(base_url, self.token, SESSION_MODEL, max_retries=0)

    def _next(self, timeout: float) -> dict[str, Any] | None:
        if self.live is not None and self._session is not None:
            # Idle with a live view: Playwright delivers the screencast's frames only while the main
            # thread is in one of its calls, so wait for work in short slices and pump in between.
            until = time.monotonic() + timeout
            while True:
                try:
                    return self.work.get(timeout=min(0.05, max(0.0, until - time.monotonic())))
                except queue.Empty:
                    self.live.screencast.pump(self._session.page)
                    if time.monotonic() >= until:
                        return None
        try:
            return self.work.get(timeout=timeout)
        except queue.Empty:
            return None

    def _ready(self, session: BrowserSession) -> None:
        body = {"url": page_url(session.page), "title": safe_title(session.page)}
        (self.out_dir / "ready.json").write_text(json.dumps(body), encoding="utf-8")
        url = f"{self.control_url}/internal/sessions/{self.spec.session_id}/ready"
        for attempt in range(3):
            try:
                status = post_json(url, self.token, body, 5.0)
                if status < 300:
                    return
                log.warning("ready not accepted", extra={"status": status})
                if status < 500:
                    return
            except OSError as exc:
                log.warning("ready not delivered", extra={"error": str(exc), "attempt": attempt})
            time.sleep(0.25 * (attempt + 1))

    def _handle(self, command: dict[str, Any], session: BrowserSession) -> None:
        kind = command.get("kind")
        if kind == "action":
            assert self.actions is not None
            self.reply(
                command["id"],
                self.actions.run(str(command.get("action")), command.get("args"), by=str(command.get("by") or "api")),
            )
        elif kind == "task":
            self._task(command, session)
        elif kind == "save_profile":
            self.reply(command["id"], self._save_profile(session))
        elif kind == "close":
            self.reply(command["id"], {"ok": True})
            self.closing.set()
        else:
            self.reply(command["id"], {"ok": False, "error": f"unknown command kind {kind!r}"})

    def _save_profile(self, session: BrowserSession) -> dict[str, Any]:
        """The context's storage_state into the out dir, for the control plane to save into the
        session's profile at its close (never copied to the evidence)."""
        path = self.out_dir / PROFILE_STATE_PATH
        try:
            session.context.storage_state(path=str(path))
        except Exception as exc:
            return {"ok": False, "error": short_error(exc)}
        return {"ok": True, "path": PROFILE_STATE_PATH}

    def _while_paused(self) -> None:
        """Serve direct actions while the task is paused; keep anything else for later."""
        command = self._next(0.05)
        if command is None:
            return
        if command.get("kind") == "action" and self.actions is not None:
            self.reply(
                command["id"],
                self.actions.run(str(command.get("action")), command.get("args"), by=str(command.get("by") or "api")),
            )
        else:
            self.deferred.append(command)

    def _task(self, command: dict[str, Any], session: BrowserSession) -> None:
        spec = command.get("spec") or {}
        run_id = str(spec.get("run_id") or "")
        token = str(command.get("token") or "")
        self.reply(command["id"], {"ok": True})
        if not run_id or "/" in run_id or run_id.startswith("."):
            log.warning("task without a usable run id")
            return
        if self.control.stopped(run_id):
            return
        control, pause_work, live = self.control, self._while_paused, self.live

        class SessionTaskRun(AgentRun):
            def _check_time(self) -> None:
                if live is not None:  # between steps: follow a tab the agent opened
                    live.screencast.attach(self.session.page)
                control.checkpoint(run_id, self.deadline, pause_work, self._beat)
                note = control.take_note()
                if note:
                    self.manual_note = note
                super()._check_time()

            def _beat(self) -> None:
                if self.callback is not None:
                    self.callback.progress(self.evidence.steps_written, page_url(self.session.page), "paused")

        self.control.begin(run_id)
        try:
            run_agent(
                spec,
                self.out_dir / "tasks" / run_id,
                self.control_url,
                token,
                options=self.options,
                browser_session=session,
                factory=SessionTaskRun,
            )
        except Exception as exc:  # run_agent reports every failure itself; never take the session down
            log.warning("task ended abnormally", extra={"run_id": run_id, "error": short_error(exc)})
        finally:
            self.control.end()
            session.evidence = self.evidence
            if self.actions is not None:
                self.actions.observation = None  # refs of the task's snapshots are not the caller's
