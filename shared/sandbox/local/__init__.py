"""The local sandbox provider (bubblewrap on this machine) and what only it needs: the egress proxy
and control forwarder, the in-sandbox bridge, cgroup/rlimit/seccomp limits.

Local-only: chosen with ``OPENHELM_SANDBOX_PROVIDER=local`` (the local stack), never in AWS, so
``scripts/build_layer.py`` leaves this package out of the Lambda layer and nothing the Lambda
functions import may import it at module level (``shared/sandbox/factory.py`` imports it lazily).
"""
