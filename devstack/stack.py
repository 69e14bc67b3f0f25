"""The embedded local stack: the SAM template's resources in moto, in one process.

``EmbeddedStack`` starts moto (``mock_aws`` with the Step Functions interpreter switched on) plus a
moto server on 127.0.0.1 (``moto_server``), so that real HTTP clients (curl on a presigned S3 URL,
the state machine interpreter) reach the same backends; handlers' boto3 calls are served
in-process by ``mock_aws`` (S3 alone goes through the server, ``AWS_ENDPOINT_URL_S3``, so presigned
URLs point at it). It sets the functions' shared environment (``process_env``), creates the
translated template's resources directly with boto3 (``resources``), runs every Lambda invoke
in-process (``patches``/``runtime``), polls SQS mappings (``sqs_poller``) and serves the HttpApi
routes (``gateway``, one API resolver per concurrent request: ``resolver_pool``) and every
function URL (``function_urls``), each on its own port. This module holds the lifecycle, the
public helpers and the delivery to EventBridge/Scheduler targets.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from botocore.config import Config
from moto import mock_aws
from moto.awslambda.models import EventSourceMapping

from devstack import patches
from devstack.function_urls import bind_function_urls, serve_function_urls
from devstack.gateway import LocalGateway
from devstack.moto_server import FAKE_CREDENTIALS, MOTO_CONFIG, UNSET_ENV, moto_server_url, session
from devstack.process_env import ProcessEnvironment, merge_environments
from devstack.resolver_pool import ResolverPool
from devstack.resources import ResourceCreator, local_functions
from devstack.runtime import FunctionError, FunctionRegistry, LocalFunction, PayloadTooLarge
from devstack.scheduler import LocalScheduler
from devstack.sqs_poller import SqsPoller
from devstack.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    LocalTemplate,
    Resolver,
    load_template,
)
from devstack.web_adapter import WebAdapterEndpoint
from shared.logging import get_logger
from shared.process import reset_process_caches

log = get_logger("devstack.stack")


class EmbeddedStack:
    """The template's stack, running locally. Use as a context manager or start()/stop().

    ``params`` override template parameters; ``env`` is applied on top of the functions' merged
    Environment (so it may override template values, e.g. ``OPENHELM_STAGE=local``);
    ``public_url_env`` names a variable set to the gateway URL (None: not set);
    ``async_retry_delays`` replaces Lambda's minutes between async retries; ``schedules=False``
    leaves schedules to :meth:`trigger_schedule`; ``preload`` imports every handler at start.
    """

    def __init__(
        self,
        template: str | Path | LocalTemplate = "template.yaml",
        params: Mapping[str, Any] | None = None,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        port: int = 0,
        gateway: bool = True,
        env: Mapping[str, str] | None = None,
        public_url_env: str | None = "OPENHELM_PUBLIC_URL",
        region: str = DEFAULT_REGION,
        cache_dir: str | Path | bool | None = True,
        preload: bool = False,
        schedules: bool = True,
        async_retry_delays: tuple[float, ...] = (1.0, 2.0),
    ) -> None:
        self._template_arg = template
        self.params = dict(params or {})
        self.stack_name = stack_name
        self.port = port
        self.with_gateway = gateway
        self.env_overrides = dict(env or {})
        self.public_url_env = public_url_env
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID
        self.cache_dir = cache_dir
        self.preload_handlers = preload
        self.run_schedules = schedules
        self.async_retry_delays = async_retry_delays

        self.template: LocalTemplate | None = None
        self.resolver: Resolver | None = None
        self.registry: FunctionRegistry | None = None
        self.gateway: LocalGateway | None = None
        self.function_urls: dict[str, LocalGateway | WebAdapterEndpoint] = {}  # AWS::Lambda::Url logical id -> endpoint
        self.poller: SqsPoller | None = None
        self.scheduler = LocalScheduler(self.deliver)
        self.aws_endpoint = ""
        self.outputs: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}  # logical id -> resource type not created locally
        self.environment: dict[str, str] = {}  # what the stack put into os.environ
        self.started_s = 0.0
        self._mock: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._process_env = ProcessEnvironment()
        self._state_machines: list[str] = []
        self._running = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> EmbeddedStack:
        """Bring the whole stack up; on any failure, undo what was started and re-raise."""
        if self._running:
            return self
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_s = time.perf_counter() - started
        log.info(
            "stack_started",
            stack=self.stack_name,
            url=self.url if self.gateway else None,
            aws_endpoint=self.aws_endpoint,
            functions=sorted(self.registry.functions) if self.registry else [],
            ms=round(self.started_s * 1000, 1),
        )
        return self

    def _start(self) -> None:
        self._running = True
        patches.activate(self)  # first: raises if another stack runs, before anything is touched
        self.scheduler = LocalScheduler(self.deliver)
        self.aws_endpoint = moto_server_url()
        self._process_env.set(
            {
                **FAKE_CREDENTIALS,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                # Handlers reach moto in-process (mock_aws intercepts their boto3 calls: ~3x faster
                # than through the server, and no server thread in the GIL queue). Only S3 goes to
                # the server, so presigned URLs handed to clients work with curl.
                "AWS_ENDPOINT_URL_S3": self.aws_endpoint,
                "MOTO_PORT": self.aws_endpoint.rsplit(":", 1)[1],
            },
            unset=[*UNSET_ENV, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))],
        )
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[arg-type]
        self._mock.start()

        tpl = self._template_arg
        if not isinstance(tpl, LocalTemplate):
            tpl = load_template(tpl, self.params, region=self.region, cache_dir=self.cache_dir)
        self.template = tpl
        if self.with_gateway:  # bound first: its URL may appear in the environment and outputs
            self.gateway = LocalGateway([], FunctionRegistry([]), port=self.port, account_id=self.account_id)
        self.resolver = Resolver(
            tpl,
            stack_name=self.stack_name,
            region=self.region,
            account_id=self.account_id,
            endpoint_url=self.aws_endpoint,
            api_url=self.gateway.url if self.gateway else None,
        )
        self.function_urls = bind_function_urls(
            tpl, self.resolver
        )  # before the functions' environment is resolved: it may name them
        self.registry = FunctionRegistry(
            local_functions(tpl, self.resolver), async_retry_delays=self.async_retry_delays
        )
        self.poller = SqsPoller(
            self.registry,
            self.client("sqs"),
            account_id=self.account_id,
            region=self.region,
            endpoint_url=self.aws_endpoint,
        )
        self._apply_function_environment()
        resources = ResourceCreator(tpl, self.resolver, self.registry, self.client, self.scheduler, self.account_id)
        resources.create_all()
        self.skipped, self._state_machines = resources.skipped, resources.state_machines
        self.outputs = {k: v.get("Value") for k, v in self.resolver.resolve(tpl.cfn.get("Outputs") or {}).items()}
        self._process_env.extend_sys_path(tpl)
        reset_process_caches()  # handler code reads this stack's environment afresh
        if self.run_schedules:
            self.scheduler.start()
        ResolverPool().install()  # handlers are called from many threads at once
        if self.gateway:
            self.gateway.serve(tpl.http_routes, self.registry)
        serve_function_urls(self.function_urls, tpl, self.resolver, self.registry)
        if self.preload_handlers:
            self.preload()

    def stop(self) -> None:
        """Stop everything this stack started and restore the environment; idempotent."""
        if not self._running:
            return
        self._running = False
        # Outside in: no new requests, schedules or batches, then no running executions, then the
        # handlers themselves, then moto.
        if self.gateway:
            self.gateway.stop()
        for endpoint in self.function_urls.values():
            endpoint.stop()
        self.function_urls = {}
        self.scheduler.stop()
        if self.poller:
            self.poller.stop()
        self._stop_executions()
        reset_process_caches()  # kills this process's sandboxes, removes the run directories it made (only those)
        patches.deactivate(self)
        if self.registry:
            self.registry.close()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._clients.clear()
        ResolverPool.uninstall()
        self._process_env.restore()
        reset_process_caches()  # nothing cached from this stack's environment outlives it
        log.info("stack_stopped", stack=self.stack_name)

    def _stop_executions(self) -> None:
        """Executions still waiting (a task token nobody sends) would otherwise keep running in
        moto's threads and call into the next stack of this process."""
        if self._mock is None:
            return
        sfn = self.client("stepfunctions")
        for arn in self._state_machines:
            try:
                for ex in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
                    sfn.stop_execution(executionArn=ex["executionArn"], error="EmbeddedStackStopped")
            except Exception as exc:  # best effort: the stack is going away anyway
                log.debug("stop_executions_failed", state_machine=arn, error=str(exc))

    # ------------------------------------------------------------------ public helpers

    @property
    def url(self) -> str:
        """Base URL of the local HTTP API gateway."""
        if self.gateway is None:
            raise RuntimeError("the stack runs without a gateway (gateway=False) or is not started")
        return self.gateway.url

    def function_url(self, logical_id: str) -> str:
        """Base URL (no trailing slash) of the function URL ``logical_id`` (``<Function>Url``)."""
        if logical_id not in self.function_urls:
            raise KeyError(f"no function URL {logical_id!r}; the stack serves {sorted(self.function_urls)}")
        return self.function_urls[logical_id].url

    def client(self, service: str) -> Any:
        """A boto3 client for the local AWS endpoint (cached per service; boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = session(self.region).client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.aws_endpoint,
                    config=Config(retries={"max_attempts": 1}),
                )
            return self._clients[service]

    def physical_id(self, logical_id: str) -> Any:
        """What ``!Ref <logical_id>`` resolves to (name, URL or ARN, by resource type)."""
        assert self.resolver is not None, "stack not started"
        return self.resolver.ref(logical_id)

    def function(self, logical_id: str) -> LocalFunction:
        assert self.registry is not None, "stack not started"
        fn = self.registry.get(logical_id)
        if fn is None:
            raise KeyError(f"no function {logical_id!r}; the template has {sorted(self.registry.functions)}")
        return fn

    def handler_module(self, logical_id: str) -> ModuleType:
        """The function's imported handler module (imports it if needed)."""
        return self.function(logical_id).module

    def invoke(self, logical_id: str, event: Any = None) -> Any:
        """Invoke a function through the Lambda API (RequestResponse) and return its decoded result.

        Raises :class:`FunctionError` (with Lambda's error payload) if the function errored.
        """
        fn = self.function(logical_id)
        resp = self.client("lambda").invoke(
            FunctionName=fn.name, Payload=json.dumps(event if event is not None else {})
        )
        payload = json.loads(resp["Payload"].read() or b"null")
        if resp.get("FunctionError"):
            raise FunctionError(payload if isinstance(payload, dict) else {"errorMessage": str(payload)})
        return payload

    def preload(self) -> dict[str, str]:
        """Import every handler now (a cold start up front); returns {logical id: import error}."""
        assert self.registry is not None, "stack not started"
        errors: dict[str, str] = {}
        for logical_id, fn in self.registry.functions.items():
            try:
                fn.load()
            except Exception as exc:
                errors[logical_id] = f"{type(exc).__name__}: {exc}"
                log.error("handler_import_failed", function=logical_id, error=errors[logical_id])
        return errors

    def drain_queues(self, timeout: float = 10.0) -> None:
        """Wait until the SQS mappings' queues are empty and pending async invokes finished."""
        assert self.poller is not None and self.registry is not None, "stack not started"
        deadline = time.monotonic() + timeout
        self.poller.drain(timeout)
        if not self.registry.wait_async(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"asynchronous invokes still running after {timeout}s")

    def trigger_schedule(self, logical_id: str) -> None:
        """Fire a schedule (AWS::Scheduler::Schedule or scheduled rule) now, without waiting."""
        self.scheduler.trigger(logical_id)

    # ------------------------------------------------------------------ patches.Runtime

    def deliver(self, target_arn: str, event: Any, source: str) -> None:
        """Deliver an event to an EventBridge/Scheduler target the way AWS does: a Lambda function
        asynchronously, a state machine as a new execution, a queue as a message."""
        assert self.registry is not None
        service = target_arn.split(":")[2]
        if service == "lambda":
            fn = self.registry.get(target_arn)
            if fn is None:
                log.warning("target_function_unknown", arn=target_arn, source=source)
                return
            try:
                self.registry.invoke_async(fn, event, source=source)
            except PayloadTooLarge as exc:  # Lambda refuses it; EventBridge counts a failed delivery
                log.error("target_delivery_failed", arn=target_arn, source=source, error=str(exc))
        elif service == "states":
            self.client("stepfunctions").start_execution(stateMachineArn=target_arn, input=json.dumps(event))
        elif service == "sqs":
            name = target_arn.rsplit(":", 1)[-1]
            self.client("sqs").send_message(
                QueueUrl=f"{self.aws_endpoint}/{self.account_id}/{name}", MessageBody=json.dumps(event)
            )
        else:
            log.warning("target_not_supported_locally", arn=target_arn, source=source)

    def on_event_source_mapping(self, esm: EventSourceMapping) -> None:
        if self.poller is not None:
            self.poller.add(esm)

    # ------------------------------------------------------------------ environment

    def _apply_function_environment(self) -> None:
        """Handlers share one process, hence one os.environ: the union of every function's
        Environment, which must not disagree (two values for one name cannot both hold)."""
        assert self.registry is not None
        merged, owner = merge_environments(self.registry.functions.values())
        merged.update(self.env_overrides)
        if self.gateway and self.public_url_env:
            merged[self.public_url_env] = self.gateway.url
        self.environment = merged
        self._process_env.set(merged)
        log.debug("environment", names=sorted(merged), from_functions=owner)

    @staticmethod
    def merge_environments(functions: Any) -> tuple[dict[str, str], dict[str, str]]:
        """Union of the functions' variables; TemplateError if two functions disagree on one."""
        return merge_environments(functions)
