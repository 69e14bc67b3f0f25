"""The dependency container: settings, clock, ids, the repositories and the AWS adapters.

Built once per cold start by handlers (:func:`get_services`); tests build their own with a
FakeClock, deterministic ids or clients pointed at moto. ``aws`` is the client factory the
adapters are built on; code in shared/ uses the adapters (tests/unit/test_layering.py checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from shared.aws.clients import AwsClients
from shared.aws.event_bus import EventPublisher
from shared.aws.evidence_store import EvidenceStore
from shared.aws.executions import RunExecutions
from shared.aws.file_store import FileStore
from shared.aws.secrets_vault import SecretsVault
from shared.aws.webhook_queue import WebhookQueue
from shared.clock import Clock
from shared.config import Settings, get_settings
from shared.db.billing import BillingRepository
from shared.db.dynamo import Table
from shared.db.files import FileRepository
from shared.db.jobs import JobRepository
from shared.db.orgs import OrgRepository
from shared.db.profiles import ProfileRepository
from shared.db.projects import ProjectRepository
from shared.db.ratelimit import RateLimiter
from shared.db.runs import RunRepository
from shared.db.sessions import SessionRepository
from shared.db.webhooks import WebhookRepository
from shared.ids import IdFactory
from shared.sandbox.base import SandboxProvider


@dataclass
class Services:
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    ids: IdFactory = field(default_factory=IdFactory)
    aws: AwsClients = field(default_factory=AwsClients)
    # Tests hand in a provider; otherwise the configured one is built on first use.
    sandbox_provider: SandboxProvider | None = None

    @cached_property
    def table(self) -> Table:
        return Table(self.aws.dynamodb, self.settings.table_name)

    @cached_property
    def orgs(self) -> OrgRepository:
        return OrgRepository(self.table)

    @cached_property
    def projects(self) -> ProjectRepository:
        return ProjectRepository(self.table)

    @cached_property
    def jobs(self) -> JobRepository:
        return JobRepository(self.table)

    @cached_property
    def runs(self) -> RunRepository:
        return RunRepository(self.table)

    @cached_property
    def sessions(self) -> SessionRepository:
        return SessionRepository(self.table)

    @cached_property
    def webhooks(self) -> WebhookRepository:
        return WebhookRepository(self.table)

    @cached_property
    def billing(self) -> BillingRepository:
        return BillingRepository(self.table)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.table)

    @cached_property
    def events(self) -> EventPublisher:
        return EventPublisher(self.aws.events, self.settings.event_bus)

    @property
    def sandbox(self) -> SandboxProvider:
        if self.sandbox_provider is not None:
            return self.sandbox_provider
        # Deliberately lazy (cold start): the factory imports the configured provider (e2b is costly),
        # which only the functions that start or read sandboxes need.
        from shared.sandbox.factory import get_provider

        return get_provider(self.settings)

    @cached_property
    def orchestrator(self) -> RunExecutions:
        return RunExecutions(self.aws.stepfunctions, self.settings.run_state_machine_arn)

    @cached_property
    def evidence_store(self) -> EvidenceStore:
        return EvidenceStore(self.aws.s3, self.settings.evidence_bucket)

    @cached_property
    def files(self) -> FileRepository:
        return FileRepository(self.table)

    @cached_property
    def file_store(self) -> FileStore:
        return FileStore(self.aws.s3, self.settings.files_bucket)

    @cached_property
    def profiles(self) -> ProfileRepository:
        return ProfileRepository(self.table)

    @cached_property
    def profile_store(self) -> FileStore:
        return FileStore(self.aws.s3, self.settings.profiles_bucket, kms_key_id=self.settings.profiles_key_id)

    @cached_property
    def secrets_vault(self) -> SecretsVault:
        return SecretsVault(self.aws.kms, self.settings.secrets_key_id)

    @cached_property
    def webhook_queue(self) -> WebhookQueue:
        return WebhookQueue(self.aws.sqs, self.settings.webhook_queue_url)


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(settings=get_settings())
