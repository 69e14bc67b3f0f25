"""Per-domain run secrets: validation, sealing into the run record, opening for the sandbox.

Where a value lives, and why (issue 13):

* the API request (TLS) → ``create_run`` validates and seals it with KMS (``SecretsVault``, the run and
  org ids as encryption context) into ``secrets_sealed`` on the run record; the record's clear fields
  hold only the patterns and field names (``secrets``), which is all the API ever shows;
* StartSandbox opens it and hands it to the provider beside the run spec (``SandboxRequest.secrets``,
  never in its repr): E2B writes it with the spec over envd's TLS into the sandbox's file system (not
  as environment variables: a sandbox's envs are part of its create request, which E2B keeps with the
  sandbox's metadata, and a process's environment is readable by every process of that user); the
  local provider writes it into the run directory (mode 0400), which is removed when the run ends;
* the agent reads it, removes the file where it can (E2B), keeps the values in memory, types them
  only on a page whose host matches, and masks them everywhere it writes or sends;
* the run's end (``finish_run``, any terminal status) removes ``secrets_sealed`` from the record, and
  the sandbox is killed after its evidence is copied (E2B removes its file system with it).

Values are kept out of logs by :func:`shared.logging.secret_values` wherever this process holds them,
and the idempotency hash of a request holds an HMAC of each value, not the value.

Sessions (issue 11) can reuse :func:`check_secrets`, :func:`seal` and :func:`open_sealed` per task:
a task's secrets go to its session's sandbox the same way, by the provider, at the task's start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from typing import Any

from shared.domains import is_address, parse_pattern
from shared.errors import Unprocessable
from shared.models.run_record import RunRecord
from shared.models.runs import RunSecret
from shared.services import Services

# KMS Encrypt takes 4,096 bytes; the JSON of a run's secrets must fit with room to spare.
MAX_SECRETS_BYTES = 3000
PLACEHOLDER = "<secret:{name}>"


def pattern_within(inner: str, outer: str) -> bool:
    """True if every host ``inner`` matches is also matched by ``outer`` (both canonical patterns)."""
    inner, outer = parse_pattern(inner), parse_pattern(outer)
    if outer == "*":
        return True
    if inner == "*":
        return False
    if outer.startswith("*."):
        apex = outer[2:]
        if "/" in inner or is_address(inner):
            return False
        name = inner[2:] if inner.startswith("*.") else inner
        return name == apex or name.endswith("." + apex)
    if "/" in outer:
        try:
            network = ipaddress.ip_network(outer)
            candidate = ipaddress.ip_network(inner, strict=False) if ("/" in inner or is_address(inner)) else None
        except ValueError:
            return False
        return candidate is not None and candidate.version == network.version and candidate.subnet_of(network)  # type: ignore[arg-type]
    return inner == outer


def check_secrets(secrets: list[RunSecret] | None, allowed_domains: list[str] | None) -> None:
    """422 (``details[].loc``) for a secret whose pattern lies outside ``allowed_domains`` (when set)
    or for secrets too large to seal."""
    if not secrets:
        return
    outside = []
    for i, secret in enumerate(secrets):
        if allowed_domains and not any(pattern_within(secret.match, allowed) for allowed in allowed_domains):
            outside.append(
                {
                    "loc": ["secrets", i, "match"],
                    "msg": f"{secret.match!r} is not inside the run's allowed_domains {list(allowed_domains)}",
                    "type": "secret_domain_not_allowed",
                }
            )
    if outside:
        raise Unprocessable(outside[0]["msg"], code="secret_domain_not_allowed", details=outside)
    size = len(_plaintext(secrets))
    if size > MAX_SECRETS_BYTES:
        raise Unprocessable(
            f"the run's secrets take {size} bytes as JSON; at most {MAX_SECRETS_BYTES}",
            code="secrets_too_large",
            details=[{"loc": ["secrets"], "msg": "too large", "type": "secrets_too_large"}],
        )


def _plaintext(secrets: list[RunSecret]) -> bytes:
    return json.dumps([s.model_dump() for s in secrets], separators=(",", ":"), ensure_ascii=False).encode()


def values(secrets: list[RunSecret] | list[dict[str, Any]] | None) -> list[str]:
    """Every value of these secrets (for log masking)."""
    found: list[str] = []
    for secret in secrets or []:
        fields = secret.fields if isinstance(secret, RunSecret) else secret.get("fields") or {}
        found.extend(v for v in fields.values() if isinstance(v, str))
    return found


def public_info(secrets: list[RunSecret]) -> list[dict[str, Any]]:
    """What the run record keeps in clear and the API shows: patterns and field names."""
    return [{"match": s.match, "fields": list(s.fields)} for s in secrets]


def _context(org_id: str, run_id: str) -> dict[str, str]:
    return {"openhelm:run_id": run_id, "openhelm:org_id": org_id}


def seal(svc: Services, org_id: str, run_id: str, secrets: list[RunSecret]) -> dict[str, Any]:
    """The run record's fields for these secrets: ``secrets`` (names) and ``secrets_sealed``
    (base64 of the KMS ciphertext). Raises SecretsVaultUnavailable (503) when KMS refuses."""
    sealed = svc.secrets_vault.seal(_plaintext(secrets), _context(org_id, run_id))
    return {"secrets": public_info(secrets), "secrets_sealed": base64.b64encode(sealed).decode()}


def open_sealed(svc: Services, org_id: str, run: RunRecord) -> list[dict[str, Any]]:
    """The secrets of a run record, in clear ([] when it has none, or they were removed)."""
    sealed = run.secrets_sealed
    if not sealed:
        return []
    plaintext = svc.secrets_vault.open(base64.b64decode(sealed), _context(org_id, run.id))
    data = json.loads(plaintext)
    return data if isinstance(data, list) else []


def hash_view(secrets: list[dict[str, Any]] | None, key: str) -> list[dict[str, Any]] | None:
    """The secrets as an idempotency hash may see them: each value replaced by its HMAC-SHA256 under
    ``key`` (the same request still hashes the same; the hash gives no value away)."""
    if secrets is None:
        return None
    secret_key = key.encode() or b"openhelm-secrets"
    return [
        {
            "match": s.get("match"),
            "fields": {
                name: hmac.new(secret_key, str(value).encode(), hashlib.sha256).hexdigest()
                for name, value in (s.get("fields") or {}).items()
            },
        }
        for s in secrets
    ]
