"""The run secrets key (KMS): encrypt a run's secrets for its record, decrypt them for its sandbox.

KMS Encrypt takes at most 4,096 bytes of plaintext, which bounds a run's secrets (shared/secrets.py
caps them below that). The run and org ids are the encryption context: a ciphertext copied onto
another run's record does not decrypt there.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable

KMS_MAX_PLAINTEXT = 4096


class SecretsVaultUnavailable(ServiceUnavailable):
    code = "secrets_vault_unavailable"


class SecretsVault:
    def __init__(self, client: Any, key_id: str) -> None:
        self.client = client
        self.key_id = key_id

    @property
    def configured(self) -> bool:
        return bool(self.key_id)

    def seal(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        """The KMS ciphertext of ``plaintext`` (≤ 4,096 bytes) bound to ``context``."""
        if not self.key_id:
            raise SecretsVaultUnavailable("run secrets need OPENHELM_SECRETS_KEY_ID (a KMS key)")
        try:
            answer = self.client.encrypt(KeyId=self.key_id, Plaintext=plaintext, EncryptionContext=context)
        except (BotoCoreError, ClientError) as exc:
            raise SecretsVaultUnavailable(f"encrypting run secrets failed: {type(exc).__name__}") from exc
        return bytes(answer["CiphertextBlob"])

    def open(self, ciphertext: bytes, context: dict[str, str]) -> bytes:
        """The plaintext of a :meth:`seal` ciphertext made with the same ``context``."""
        try:
            answer = self.client.decrypt(
                CiphertextBlob=ciphertext, EncryptionContext=context, KeyId=self.key_id or None
            )
        except (BotoCoreError, ClientError) as exc:
            raise SecretsVaultUnavailable(f"decrypting run secrets failed: {type(exc).__name__}") from exc
        return bytes(answer["Plaintext"])
