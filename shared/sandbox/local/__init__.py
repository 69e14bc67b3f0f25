"""The local sandbox provider: the agent in a bubblewrap sandbox, as an unprivileged user.

What one sandbox is (isolation ``"bwrap"``)::

    host                                               sandbox (bwrap --unshare-all ...)
    ─────────────────────────────────────────────      ──────────────────────────────────────────
    ControlForwarder  ◄── <run>/sock/control.sock ──── bridge.py 127.0.0.1:8787 ◄── agent (callbacks)
      → control_url (progress, completion)
    ControlForwarder  ◄── <run>/sock/llm.sock     ──── bridge.py 127.0.0.1:8788 ◄── agent (OpenAI
      → llm_url (the LLM gateway's function URL)                                    client)
    EgressProxy       ◄── <run>/sock/proxy.sock   ──── bridge.py 127.0.0.1:3128 ◄── Chromium
      → domain policy, public addresses only
    <run>/out  (owned by the sandbox uid)         ──── /out (the only writable host path)

* The process tree runs as uid/gid 65534 on the host (``setpriv`` drops to it when the provider runs
  as root; otherwise the provider's own unprivileged uid is used) inside new user, mount, pid, net,
  ipc, uts and cgroup namespaces, with all capabilities dropped, ``--die-with-parent``,
  ``--new-session`` and a cleared environment.
* File system: a read-only root (bwrap's tmpfs, remounted read-only after setup) holding read-only
  binds of ``/usr`` (+ the ``/bin``, ``/lib*`` links), a short list of ``/etc`` files, the Python
  installation(s) and venv of ``python_executable``, ``agent_path`` and ``extra_ro_paths`` (each at
  its host path, so venv links, RPATHs and shebangs keep working), a private ``/tmp`` (tmpfs),
  fresh ``/proc`` and a minimal ``/dev``. Synthetic ``/etc/passwd``, ``/etc/group``, ``/etc/hosts``.
  Writable: ``/out``, ``/tmp``, ``/dev/shm`` only. The run spec and the bridge script are copied in
  from memory (``--ro-bind-data``); every bwrap argument is passed through a file descriptor
  (``--args``), so the run token never appears in a host command line.
* Host paths the sandbox uid cannot reach (a Python under ``/root`` is the usual case) are bound
  anyway when the provider runs as root (``staging.py``): ``unshare --mount`` gives the launch its own private mount
  namespace in which root bind-mounts them into a staging directory bwrap can read. The staging
  mounts die with the sandbox; the host mount table is never touched.
* Network: a new, empty network namespace (loopback only). The only way out is the unix sockets
  above; ``bridge.py`` (started first, inside) exposes them on the sandbox's 127.0.0.1, and the agent
  gets ``OPENHELM_CONTROL_URL=http://127.0.0.1:8787<control path>``,
  ``OPENHELM_LLM_URL=http://127.0.0.1:8788<llm path>`` (when the request has an ``llm_url``) and
  ``OPENHELM_BROWSER_PROXY=http://127.0.0.1:3128``. See ``egress_server.py`` and ``egress_policy.py`` for the policy.

Fallback (isolation ``"subprocess"``): where bubblewrap is missing or cannot create namespaces
(probed once per process), the agent runs as a plain subprocess with the same environment, as uid
65534 when the provider is root and the interpreter is reachable by that uid; Chromium is still
pointed at the filtering proxy (on a host TCP port), but nothing stops the agent from ignoring it.
This is logged loudly at construction.

Limits (``limits.py``): a seccomp filter (``bwrap --seccomp``), and a cgroup per sandbox with memory
and pid limits where one can be made (else a per-uid process cap), joined before bwrap starts.

Inside, bwrap runs ``bridge.py`` → the image's supervisor (``openhelm_agent/supervise.py``, copied in
like the bridge) → the agent. The supervisor reports an agent that exits without its completion
(``/internal/runs/{id}/exit``); the watcher below reports a sandbox that ended on its own (a dead
bridge, supervisor or init ends the whole pid namespace at once), so a crash fails its run within
a second instead of waiting for the reaper.

Lifecycle: :meth:`LocalProvider.start` returns as soon as bwrap has set the sandbox up (a few tens
of milliseconds). A watcher thread reaps the process; a timer kills it after ``request.timeout_s``;
``setpriv --pdeathsig`` kills it if the provider's process dies (no orphans after a crash of
``openhelm dev``). "Exited" means the sandbox's whole pid namespace is gone (waited on through a
pidfd of its init). Files stay readable after the process ends (the control plane reads them after
the completion callback) until :meth:`LocalProvider.kill`, which also removes the run's files unless
``retain_files`` is set (the logs of the newest ``keep_logs`` killed sandboxes are kept);
:meth:`LocalProvider.close` removes every run directory this provider made, and nothing else.

Warm sandboxes (``warm_pool.py``, ``warm_pool=N``, default 0): N sandboxes started ahead of any run
whose agent has Chromium up and waits; ``start`` hands one run to a ready one (its servers, egress
policy and variables are given then) and the pool refills in the background. Never reused; drained
by ``close()``.

Modules: ``provider.py`` (LocalProvider: configuration, start, kill, close), ``launch.py``
(directories, environment, bwrap command or subprocess fallback) with ``staging.py`` (binds of
unreachable paths, as root), ``watcher.py`` (reaping, exit reports, lifetime, teardown),
``inspection.py`` (out-dir reads, exit codes, processes, log files), ``host.py`` (host checks and
the fixed sandbox layout), ``processes.py`` (process trees and pidfds), ``outdir.py`` (out-dir
reads without following links), ``record.py`` (per-sandbox state), ``warm_pool.py`` (warm
sandboxes), ``limits.py`` (cgroups, rlimits, seccomp), ``egress_policy.py`` / ``http_head.py`` /
``egress_server.py`` (the egress proxy and control forwarder), ``bridge.py`` (runs inside the
sandbox).

Local-only: chosen with ``OPENHELM_SANDBOX_PROVIDER=local`` (the local stack), never in AWS, so
``scripts/build_layer.py`` leaves this package out of the Lambda layer and nothing the Lambda
functions import may import it at module level (``shared/sandbox/factory.py`` imports it lazily).
"""
