"""Starting a local sandbox: its directories, environment and servers, the bubblewrap command (or
the plain-subprocess fallback), limits and the wait for bwrap's setup. A mixin of LocalProvider."""

from __future__ import annotations

import contextlib
import json
import os
import select
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from shared.logging import get_logger
from shared.sandbox.base import (
    SandboxRequest,
    SandboxStartError,
    spec_document,
)
from shared.sandbox.env_policy import split_envs
from shared.sandbox.local.egress_policy import EgressPolicy
from shared.sandbox.local.egress_server import ControlForwarder, EgressProxy
from shared.sandbox.local.host import (
    BRIDGE_SOURCE,
    ETC_PATHS,
    HOSTNAME,
    IN_SANDBOX,
    INNER_CONTROL_PORT,
    INNER_LLM_PORT,
    INNER_PROXY_PORT,
    OUT_IN_SANDBOX,
    SUPERVISOR_SOURCE,
    SYSTEM_DIRS,
    data_fd,
    is_under,
    launch_prefix,
    system_args,
)
from shared.sandbox.local.limits import prlimit_prefix
from shared.sandbox.local.record import Bind, SandboxRecord
from shared.sandbox.local.staging import plan_staging, stage_root, staged_command, unreachable

log = get_logger("openhelm.sandbox.local")
MAILBOX_IN_SANDBOX = f"{IN_SANDBOX}/mailbox"
LIVE_IN_SANDBOX = f"{IN_SANDBOX}/live"


class SandboxLauncher:
    """Launch half of :class:`~shared.sandbox.local.provider.LocalProvider` (its state lives there)."""

    # ---------------------------------------------------------------------------------------------
    # Setup helpers

    @staticmethod
    def _software_binds(paths: Sequence[str]) -> list[Bind]:
        binds: dict[str, Bind] = {}
        for path in paths:
            absolute = os.path.abspath(path)
            real = os.path.realpath(absolute)
            if not os.path.exists(real):
                continue
            for dest in dict.fromkeys((real, absolute)):
                if not is_under(dest, SYSTEM_DIRS):
                    binds[dest] = Bind(real, dest)
        # Drop binds nested in another bind of the same tree; mount parents first.
        kept = [
            b
            for b in binds.values()
            if not any(o.dest != b.dest and is_under(b.dest, [o.dest]) for o in binds.values())
        ]
        return sorted(kept, key=lambda b: (b.dest.count("/"), b.dest))

    def _needs_staging(self) -> bool:
        return self.is_root and bool(unreachable(self._ro_binds))

    def _prepare_base_dir(self) -> None:
        base = self.base_dir
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o711 if self.is_root else 0o700)
        except OSError as exc:
            raise ValueError(f"cannot create base_dir {base}: {exc}") from exc
        st = os.lstat(base)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise ValueError(f"base_dir {base} must be a directory owned by uid {os.geteuid()} (not a symlink)")
        if st.st_mode & 0o022:
            raise ValueError(f"base_dir {base} must not be group/world writable")

    def _make_dirs(self, rec: SandboxRecord) -> None:
        rec.run_dir.mkdir(mode=0o711 if self.is_root else 0o700)
        rec.log_dir.mkdir(mode=0o700)
        (rec.run_dir / "sock").mkdir(mode=0o755 if self.is_root else 0o700)
        rec.out_dir.mkdir(mode=0o700)
        if self.sandbox_uid != os.geteuid():
            os.chown(rec.out_dir, self.sandbox_uid, self.sandbox_gid)
        if rec.mailbox_dir is not None:
            # Written by the provider only (send_command); bound read-only into the sandbox.
            rec.mailbox_dir.mkdir(mode=0o755 if self.sandbox_uid != os.geteuid() else 0o700)
        if rec.live_socket is not None:
            # The agent's live-view socket (live_port.py); writable by the sandbox uid only.
            rec.live_socket.parent.mkdir(mode=0o700)
            if self.sandbox_uid != os.geteuid():
                os.chown(rec.live_socket.parent, self.sandbox_uid, self.sandbox_gid)

    def _env(
        self,
        request: SandboxRequest | None,
        sandbox_id: str,
        *,
        control_url: str,
        proxy_url: str,
        out_dir: str,
        spec: str,
        home: str,
        llm_url: str = "",
        mailbox: str = "",
        live_socket: str = "",
    ) -> dict[str, str]:
        """The agent's environment; without a request (a warm sandbox) only what is not per run: the
        run's variables come with the hand-out (warm_pool.py)."""
        env: dict[str, str] = {}
        if request is not None:
            split = split_envs(request.envs)
            env.update(split.kept)
            for key in split.refused + split.reserved:
                log.warning("sandbox.env_dropped", run_id=request.run_id, name=key)
        env.update(
            PATH="/usr/local/bin:/usr/bin:/bin",
            HOME=home,
            TMPDIR=home,
            LANG="C.UTF-8",
            USER="nobody",
            LOGNAME="nobody",
            PYTHONPATH=self.agent_path,
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
            OPENHELM_OUT_DIR=out_dir,
            OPENHELM_CHROMIUM=self.chromium,
            OPENHELM_BROWSER_PROXY=proxy_url,
            OPENHELM_SANDBOX=self.isolation,
            # Inherited by every process of the run (Chromium included): how the subprocess
            # fallback finds stragglers that left its process tree.
            OPENHELM_SANDBOX_ID=sandbox_id,
        )
        if request is None:
            env["OPENHELM_HANDOUT"] = spec
        else:
            env.update(OPENHELM_RUN_SPEC=spec, OPENHELM_CONTROL_URL=control_url, OPENHELM_RUN_TOKEN=request.run_token)
        if llm_url:
            env["OPENHELM_LLM_URL"] = llm_url
        if mailbox:
            env["OPENHELM_MAILBOX"] = mailbox
        if live_socket and request is not None and request.live_secret:
            env["OPENHELM_LIVE_LISTEN"] = f"unix:{live_socket}"
            env["OPENHELM_LIVE_SECRET"] = request.live_secret
        if self._cgroups.available:  # the agent names it when a page dies of it
            env["OPENHELM_MEMORY_LIMIT_MB"] = str(self.memory_limit_mb)
        return env

    def _servers(
        self, rec: SandboxRecord, request: SandboxRequest, policy: EgressPolicy
    ) -> tuple[ControlForwarder, EgressProxy, ControlForwarder | None]:
        control = ControlForwarder(request.control_url, run_id=request.run_id)
        proxy = EgressProxy(policy, run_id=request.run_id, resolver=self.resolver)
        # The LLM gateway is its own endpoint (a function URL in AWS): a second forwarder, limited
        # to the gateway URL's path.
        llm = ControlForwarder(request.llm_url, run_id=request.run_id, prefix="/") if request.llm_url else None
        rec.servers += [control, proxy, *([llm] if llm else [])]
        return control, proxy, llm

    def _listen(self, rec: SandboxRecord, request: SandboxRequest, policy: EgressPolicy) -> dict[str, str]:
        """Start the run's host-side servers on the sandbox's sockets; the agent's URLs for them.

        The bridge inside opens a fresh socket connection per TCP connection, so a warm sandbox can
        get its servers (and with them the run's egress policy) only when a run is handed in."""
        sock_dir = rec.run_dir / "sock"
        control, proxy, llm = self._servers(rec, request, policy)
        owner = self.sandbox_uid if self.is_root else None
        control.listen_unix(sock_dir / "control.sock", owner=owner)
        proxy.listen_unix(sock_dir / "proxy.sock", owner=owner)
        if llm is not None:
            llm.listen_unix(sock_dir / "llm.sock", owner=owner)
        control_path = urlsplit(request.control_url).path.rstrip("/")
        llm_path = urlsplit(request.llm_url).path.rstrip("/")
        urls = {"OPENHELM_CONTROL_URL": f"http://127.0.0.1:{INNER_CONTROL_PORT}{control_path}"}
        if llm is not None:
            urls["OPENHELM_LLM_URL"] = f"http://127.0.0.1:{INNER_LLM_PORT}{llm_path}"
        return urls

    def _start_bwrap(self, rec: SandboxRecord, request: SandboxRequest | None, policy: EgressPolicy | None) -> None:
        """Start a sandbox for ``request``, or with None a warm one that waits for its run (warm_pool.py)."""
        sock_dir = rec.run_dir / "sock"
        urls = self._listen(rec, request, policy) if request is not None and policy is not None else {}
        handout = f"{IN_SANDBOX}/handout"
        rec.mailbox_in_sandbox = MAILBOX_IN_SANDBOX if rec.mailbox_dir is not None else ""
        env = self._env(
            request,
            rec.info.sandbox_id,
            control_url=urls.get("OPENHELM_CONTROL_URL", ""),
            proxy_url=f"http://127.0.0.1:{INNER_PROXY_PORT}",
            out_dir=OUT_IN_SANDBOX,
            spec=f"{IN_SANDBOX}/run_spec.json" if request is not None else handout,
            home="/tmp",
            llm_url=urls.get("OPENHELM_LLM_URL", ""),
            mailbox=MAILBOX_IN_SANDBOX if rec.mailbox_dir is not None else "",
            live_socket=f"{LIVE_IN_SANDBOX}/live.sock" if rec.live_socket is not None else "",
        )
        binds = [
            *self._ro_binds,
            Bind(str(rec.out_dir), OUT_IN_SANDBOX, True),
            Bind(str(sock_dir), f"{IN_SANDBOX}/sock"),
        ]
        if request is None:
            binds.append(Bind(str(rec.run_dir / "handout"), handout))
        if rec.mailbox_dir is not None:
            binds.append(Bind(str(rec.mailbox_dir), MAILBOX_IN_SANDBOX))
        if rec.live_socket is not None:
            binds.append(Bind(str(rec.live_socket.parent), LIVE_IN_SANDBOX, True))
        staged: list[tuple[Bind, str]] = []
        if self.is_root:

            def stage_dir() -> Path:
                rec.stage_dir = stage_root(self.base_dir) / rec.info.sandbox_id
                return rec.stage_dir

            staged = plan_staging(binds, stage_dir)
        stage_of = {id(b): path for b, path in staged}

        passwd = f"nobody:x:{self.sandbox_uid}:{self.sandbox_gid}:nobody:/tmp:/usr/sbin/nologin\n"
        data = {
            "/etc/passwd": passwd.encode(),
            "/etc/group": f"nogroup:x:{self.sandbox_gid}:\n".encode(),
            "/etc/hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost\n".encode(),
            "/etc/hostname": f"{HOSTNAME}\n".encode(),
            f"{IN_SANDBOX}/bridge.py": BRIDGE_SOURCE.read_bytes(),
            f"{IN_SANDBOX}/supervise.py": SUPERVISOR_SOURCE.read_bytes(),
        }
        if request is not None:
            data[f"{IN_SANDBOX}/run_spec.json"] = spec_document(request, f"{IN_SANDBOX}/files")
            data.update({f"{IN_SANDBOX}/files/{f.name}": f.data for f in request.files})
        fds: list[int] = []
        try:
            args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
            if self._disable_userns:
                args += ["--unshare-user", "--disable-userns"]
            args += ["--uid", str(self.sandbox_uid), "--gid", str(self.sandbox_gid), "--hostname", HOSTNAME]
            args += system_args()
            for path in ETC_PATHS:
                args += ["--ro-bind-try", path, path]
            args += [
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--size",
                str(self.tmp_size_mb * 1024 * 1024),
                "--tmpfs",
                "/tmp",
            ]
            for bind in binds:
                source = stage_of.get(id(bind), bind.source)
                args += ["--bind" if bind.writable else "--ro-bind", source, bind.dest]
            for dest, content in data.items():
                fd = data_fd(content)
                fds.append(fd)
                args += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
            if self._seccomp is not None:
                seccomp_fd = data_fd(self._seccomp)
                fds.append(seccomp_fd)
                args += ["--seccomp", str(seccomp_fd)]
            args += ["--remount-ro", "/", "--chdir", "/tmp"]
            for key, value in env.items():
                args += ["--setenv", key, value]
            args_fd = data_fd(b"".join(a.encode() + b"\0" for a in args))
            fds.append(args_fd)
            status_read, status_write = os.pipe()
            fds.append(status_write)
            rec.status_fd = status_read

            bridge = [self.python, "-I", "-S", f"{IN_SANDBOX}/bridge.py"]
            bridge += ["--listen", f"127.0.0.1:{INNER_CONTROL_PORT}={IN_SANDBOX}/sock/control.sock"]
            if "OPENHELM_LLM_URL" in urls or request is None:  # a warm sandbox's run may have one
                bridge += ["--listen", f"127.0.0.1:{INNER_LLM_PORT}={IN_SANDBOX}/sock/llm.sock"]
            bridge += ["--listen", f"127.0.0.1:{INNER_PROXY_PORT}={IN_SANDBOX}/sock/proxy.sock", "--"]
            supervisor = [self.python, "-I", "-S", f"{IN_SANDBOX}/supervise.py", "--"]
            cmd = [self._bwrap, "--args", str(args_fd), "--json-status-fd", str(status_write), *bridge, *supervisor]
            cmd += self.command
            cmd = launch_prefix(self._setpriv, self.is_root) + cmd
            if staged:
                assert rec.stage_dir is not None
                cmd = staged_command(self._unshare, rec.stage_dir, staged, cmd)
            cmd = self._limit_prefix(rec) + cmd
            token = request.run_token if request is not None else None
            secret_free = [a if a != token else "[REDACTED]" for a in args]
            (rec.log_dir / "bwrap-args.txt").write_text("\n".join([*secret_free, "--", *cmd]) + "\n")
            self._spawn(
                rec, cmd, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}, cwd="/", pass_fds=fds
            )
        finally:
            for fd in fds:
                os.close(fd)
        self._await_bwrap(rec)

    def _start_subprocess(self, rec: SandboxRecord, request: SandboxRequest, policy: EgressPolicy) -> None:
        # The agent reaches the control plane directly in this mode; only the browser is proxied.
        proxy = EgressProxy(policy, run_id=request.run_id, resolver=self.resolver)
        rec.servers.append(proxy)
        host, port = proxy.listen_tcp("127.0.0.1", 0)
        home = rec.run_dir / "home"
        home.mkdir(mode=0o700)
        spec = rec.run_dir / "run_spec.json"
        files_dir = rec.run_dir / "files"
        files_dir.mkdir(mode=0o755)
        for f in request.files:
            (files_dir / f.name).write_bytes(f.data)
        spec.write_bytes(spec_document(request, str(files_dir)))
        if self.sandbox_uid != os.geteuid():
            os.chown(home, self.sandbox_uid, self.sandbox_gid)
            os.chown(spec, self.sandbox_uid, self.sandbox_gid)
        spec.chmod(0o400)
        supervisor = rec.run_dir / "supervise.py"
        supervisor.write_bytes(SUPERVISOR_SOURCE.read_bytes())
        supervisor.chmod(0o444)
        rec.mailbox_in_sandbox = str(rec.mailbox_dir) if rec.mailbox_dir is not None else ""
        env = self._env(
            request,
            rec.info.sandbox_id,
            control_url=request.control_url.rstrip("/"),
            proxy_url=f"http://{host}:{port}",
            out_dir=str(rec.out_dir),
            spec=str(spec),
            home=str(home),
            llm_url=request.llm_url.rstrip("/"),
            mailbox=str(rec.mailbox_dir) if rec.mailbox_dir is not None else "",
            live_socket=str(rec.live_socket) if rec.live_socket is not None else "",
        )
        cmd = self._limit_prefix(rec) + launch_prefix(self._setpriv, self.sandbox_uid != os.geteuid())
        cmd += [self.python, "-I", "-S", str(supervisor), "--", *self.command]
        self._spawn(rec, cmd, env=env, cwd=str(home), pass_fds=[])

    def _limit_prefix(self, rec: SandboxRecord) -> list[str]:
        """Join the sandbox's cgroup before anything of it starts; without one, a process cap."""
        if rec.cgroup is not None:
            return rec.cgroup.join_prefix()
        return prlimit_prefix(self.pids_limit * 4)

    def _spawn(self, rec: SandboxRecord, cmd: list[str], *, env: dict[str, str], cwd: str, pass_fds: list[int]) -> None:
        def popen() -> subprocess.Popen[bytes]:
            with open(rec.log_dir / "stdout.log", "wb") as out, open(rec.log_dir / "stderr.log", "wb") as err:
                return subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                    pass_fds=pass_fds,
                )

        # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so every sandbox is
        # forked by one long-lived thread: callers' short-lived request threads may come and go.
        rec.proc = self._spawner.submit(popen).result()

    def _await_bwrap(self, rec: SandboxRecord, timeout: float = 15.0) -> None:
        """Wait for bwrap's first status line (the sandbox is set up and the bridge started)."""
        assert rec.status_fd is not None and rec.proc is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxStartError("bubblewrap did not report the sandbox ready in time")
            ready, _, _ = select.select([rec.status_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(rec.status_fd, 4096)
            if not chunk:
                break
            buf += chunk
        try:
            status = json.loads(buf.split(b"\n", 1)[0]) if b"\n" in buf else {}
        except ValueError:
            status = {}
        if "child-pid" in status:
            rec.init_pid = int(status["child-pid"])
            with contextlib.suppress(OSError):
                rec.init_pidfd = os.pidfd_open(rec.init_pid)
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                rec.proc.wait(timeout=5)
            stderr = (rec.log_dir / "stderr.log").read_text(errors="replace")[-2000:].strip()
            raise SandboxStartError(f"bubblewrap could not set up the sandbox: {stderr or 'no output'}")
