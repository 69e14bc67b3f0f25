"""The embedded local stack: the SAM template's resources in moto, in one process.

``EmbeddedStack`` starts moto (``mock_aws`` with the Step Functions interpreter switched on) plus a
moto server on 127.0.0.1, so that real HTTP clients (curl on a presigned S3 URL, the state
machine interpreter) reach the same backends; handlers' boto3 calls are served in-process by
``mock_aws`` (S3 alone goes through the server, ``AWS_ENDPOINT_URL_S3``, so presigned URLs point
at it). It creates the translated template's resources directly with boto3 (not through moto's
CloudFormation, which covers fewer properties and hides what was skipped), runs every Lambda
invoke in-process (``patches``/``runtime``), polls SQS mappings (``sqs_poller``) and serves the
HttpApi routes and every function URL, each on its own port (``gateway``).

The moto server is process-wide and outlives a ``EmbeddedStack``: handler code commonly caches boto3
clients in module globals, and a second stack in the same process (a test session) must not
leave those pointing at a dead port. State is reset per stack by ``mock_aws``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws
from moto.awslambda.models import EventSourceMapping
from moto.server import ThreadedMotoServer

from devstack import patches
from devstack.gateway import LocalGateway
from devstack.resolver_pool import ResolverPool
from devstack.runtime import FunctionError, FunctionRegistry, LocalFunction, PayloadTooLarge
from devstack.scheduler import LocalScheduler, Schedule
from devstack.sqs_poller import SqsPoller
from devstack.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    HttpRoute,
    LocalTemplate,
    Resolver,
    TemplateError,
    load_definition,
    load_template,
)
from shared.logging import get_logger
from shared.process import reset_process_caches

log = get_logger("devstack.stack")

MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {"mock_credentials": True, "reset_boto3_session": True},
    "iam": {"load_aws_managed_policies": False},
}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# Environment that would send boto3 elsewhere or fail it (a developer's profile), unset while running.
_UNSET_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "TEST_SERVER_MODE", "TEST_PROXY_MODE")

_server: ThreadedMotoServer | None = None
_server_lock = threading.Lock()


def moto_server_url() -> str:
    """The process-wide moto server (started on first use, on a free 127.0.0.1 port)."""
    global _server
    with _server_lock:
        if _server is None:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines on stderr
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            _server = server
        host, port = _server.get_host_and_port()
    return f"http://{host}:{port}"


_sessions: dict[str, boto3.session.Session] = {}


def _session(region: str) -> boto3.session.Session:
    """One boto3 session per process for the stack's own clients: service models are parsed once,
    not on every stack start (mock_aws resets boto3's default session)."""
    with _server_lock:
        if region not in _sessions:
            _sessions[region] = boto3.session.Session(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=region,
            )
        return _sessions[region]


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "The local stack runs this function's handler from its CodeUri.\n")
    return buf.getvalue()


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
        self.function_urls: dict[str, LocalGateway] = {}  # AWS::Lambda::Url logical id -> endpoint
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
        self._saved_env: dict[str, str | None] = {}
        self._saved_path: list[str] | None = None
        self._pending_redrive: dict[str, dict[str, str]] = {}
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
        self._set_env(
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
            unset=[*_UNSET_ENV, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))],
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
        self._bind_function_urls()  # before the functions' environment is resolved: it may name them
        self.registry = FunctionRegistry(self._functions(), async_retry_delays=self.async_retry_delays)
        self.poller = SqsPoller(
            self.registry,
            self.client("sqs"),
            account_id=self.account_id,
            region=self.region,
            endpoint_url=self.aws_endpoint,
        )
        self._apply_function_environment()
        self._create_resources()
        self.outputs = {k: v.get("Value") for k, v in self.resolver.resolve(tpl.cfn.get("Outputs") or {}).items()}
        self._extend_sys_path()
        reset_process_caches()  # handler code reads this stack's environment afresh
        if self.run_schedules:
            self.scheduler.start()
        ResolverPool().install()  # handlers are called from many threads at once
        if self.gateway:
            self.gateway.serve(tpl.http_routes, self.registry)
        self._serve_function_urls()
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
        self._restore_env()
        if self._saved_path is not None:
            sys.path[:] = self._saved_path
            self._saved_path = None
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
                self._clients[service] = _session(self.region).client(
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

    def _set_env(self, values: Mapping[str, str], unset: list[str] | tuple[str, ...] = ()) -> None:
        for key in [*values, *unset]:
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
        for key in unset:
            os.environ.pop(key, None)
        os.environ.update(values)

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def _functions(self) -> list[LocalFunction]:
        assert self.template is not None and self.resolver is not None
        r = self.resolver
        out: list[LocalFunction] = []
        for logical_id, res in self.template.resources.items():
            if res.get("Type") != "AWS::Lambda::Function" or not r.active(logical_id):
                continue
            props = r.resolve(res.get("Properties") or {})
            env = {k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
            code_uri = self.template.code_uris.get(logical_id)
            if code_uri is None:
                log.warning("function_without_local_code", function=logical_id)
            out.append(
                LocalFunction(
                    logical_id=logical_id,
                    name=r.physical_name(logical_id),
                    arn=r.arn(logical_id),
                    handler=str(props.get("Handler", "")),
                    code_uri=code_uri,
                    timeout_s=float(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    environment=env,
                )
            )
        return out

    def _apply_function_environment(self) -> None:
        """Handlers share one process, hence one os.environ: the union of every function's
        Environment, which must not disagree (two values for one name cannot both hold)."""
        assert self.registry is not None
        merged, owner = self.merge_environments(self.registry.functions.values())
        merged.update(self.env_overrides)
        if self.gateway and self.public_url_env:
            merged[self.public_url_env] = self.gateway.url
        self.environment = merged
        self._set_env(merged)
        log.debug("environment", names=sorted(merged), from_functions=owner)

    @staticmethod
    def merge_environments(functions: Any) -> tuple[dict[str, str], dict[str, str]]:
        """Union of the functions' variables; TemplateError if two functions disagree on one."""
        merged: dict[str, str] = {}
        owner: dict[str, str] = {}
        conflicts: list[str] = []
        for fn in functions:
            for key, value in fn.environment.items():
                if key in merged and merged[key] != value:
                    conflicts.append(f"{key}: {owner[key]}={merged[key]!r} vs {fn.logical_id}={value!r}")
                    continue
                merged.setdefault(key, value)
                owner.setdefault(key, fn.logical_id)
        if conflicts:
            raise TemplateError(
                "functions set the same environment variable to different values, which cannot hold in "
                "one process: " + "; ".join(conflicts)
            )
        return merged, owner

    def _extend_sys_path(self) -> None:
        """Layers and CodeUri folders on sys.path, like /opt/python and /var/task in Lambda, so
        handlers import the shared package and their sibling modules."""
        assert self.template is not None
        self._saved_path = list(sys.path)
        dirs: list[Path] = []
        for layer in self.template.layer_dirs.values():
            dirs.append(layer / "python" if (layer / "python").is_dir() else layer)
        dirs.extend(self.template.code_uris.values())
        for d in dirs:
            if str(d) not in sys.path:
                sys.path.append(str(d))

    # ------------------------------------------------------------------ resources

    def _create_resources(self) -> None:
        assert self.template is not None and self.resolver is not None
        r = self.resolver
        by_type: dict[str, list[str]] = {}
        for logical_id, res in self.template.resources.items():
            if r.active(logical_id):
                by_type.setdefault(res.get("Type", ""), []).append(logical_id)

        creators = [
            ("AWS::IAM::Role", self._create_role),
            ("AWS::DynamoDB::Table", self._create_table),
            ("AWS::S3::Bucket", self._create_bucket),
            ("AWS::SQS::Queue", self._create_queue),
            ("AWS::Events::EventBus", self._create_bus),
            ("AWS::Lambda::Function", self._create_function),
            ("AWS::Lambda::EventSourceMapping", self._create_mapping),
            ("AWS::StepFunctions::StateMachine", self._create_state_machine),
            ("AWS::Events::Rule", self._create_rule),
            ("AWS::Scheduler::Schedule", self._create_schedule),
            ("AWS::Lambda::EventInvokeConfig", self._apply_event_invoke_config),
            ("AWS::Lambda::Url", self._check_function_url),
        ]
        for rtype, create in creators:
            for logical_id in by_type.pop(rtype, []):
                props = r.resolve(self.template.resources[logical_id].get("Properties") or {})
                create(logical_id, props)
            if rtype == "AWS::SQS::Queue":
                self._apply_redrive_policies()
        for rtype, ids in by_type.items():
            for logical_id in ids:
                self.skipped[logical_id] = rtype
        if self.skipped:
            log.info(
                "resources_skipped",
                reason="no local equivalent or not needed locally (HTTP APIs are served by the local gateway)",
                resources=self.skipped,
            )

    def _create_role(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        # Roles exist because Lambda requires one; their policies are not enforced locally.
        self.client("iam").create_role(
            RoleName=self.resolver.physical_name(logical_id),
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument") or {}),
        )

    def _create_table(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self.resolver.physical_name(logical_id)
        kw: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in props:
                kw[key] = _ints(props[key], ("ReadCapacityUnits", "WriteCapacityUnits"))
        if kw["BillingMode"] == "PROVISIONED":
            kw.setdefault("ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        stream = props.get("StreamSpecification")
        if stream:
            kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        ddb = self.client("dynamodb")
        desc = ddb.create_table(**kw)["TableDescription"]
        if desc.get("LatestStreamArn"):
            self.resolver.set_attribute(logical_id, "StreamArn", desc["LatestStreamArn"])
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":  # stored by moto, not enforced
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )

    def _create_bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self.resolver.physical_name(logical_id)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        cors = (props.get("CorsConfiguration") or {}).get("CorsRules")
        if cors:
            rules = [
                {
                    k: v
                    for k, v in {
                        "AllowedHeaders": c.get("AllowedHeaders"),
                        "AllowedMethods": c.get("AllowedMethods"),
                        "AllowedOrigins": c.get("AllowedOrigins"),
                        "ExposeHeaders": c.get("ExposedHeaders"),
                        "MaxAgeSeconds": int(c["MaxAge"]) if "MaxAge" in c else None,
                    }.items()
                    if v is not None
                }
                for c in cors
            ]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
        notifications = props.get("NotificationConfiguration") or {}
        if str((notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")).lower() == "true":
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        if set(notifications) - {"EventBridgeConfiguration"}:
            log.warning("bucket_notifications_skipped", bucket=logical_id, kinds=sorted(set(notifications)))

    _QUEUE_ATTRIBUTES = (
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "SqsManagedSseEnabled",
    )

    def _create_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        attrs = {k: _attr(props[k]) for k in self._QUEUE_ATTRIBUTES if k in props}
        # Redrive policies name other queues: set once every queue exists.
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                self._pending_redrive.setdefault(logical_id, {})[key] = json.dumps(props[key])
        self.client("sqs").create_queue(QueueName=self.resolver.physical_name(logical_id), Attributes=attrs)

    def _apply_redrive_policies(self) -> None:
        for logical_id, attrs in self._pending_redrive.items():
            self.client("sqs").set_queue_attributes(QueueUrl=self.physical_id(logical_id), Attributes=attrs)
        self._pending_redrive = {}

    def _create_bus(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self.resolver.physical_name(logical_id)
        if name != "default":
            self.client("events").create_event_bus(Name=name)

    def _create_function(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.registry is not None
        fn = self.registry.functions[logical_id]
        kw: dict[str, Any] = {
            "FunctionName": fn.name,
            "Runtime": props.get("Runtime", "python3.12"),
            "Role": props["Role"],
            "Handler": fn.handler,
            "Code": {"ZipFile": _DUMMY_ZIP},
            "Description": props.get("Description", ""),
            "Timeout": int(fn.timeout_s),
            "MemorySize": fn.memory_mb,
            "Environment": {"Variables": fn.environment},
        }
        if props.get("Architectures"):
            kw["Architectures"] = props["Architectures"]
        self.client("lambda").create_function(**kw)

    def _create_mapping(self, logical_id: str, props: dict[str, Any]) -> None:
        keys = (
            "EventSourceArn",
            "FunctionName",
            "BatchSize",
            "Enabled",
            "FunctionResponseTypes",
            "MaximumBatchingWindowInSeconds",
            "StartingPosition",
            "ScalingConfig",
        )
        kw = {k: props[k] for k in keys if k in props}
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
            if key in kw:
                kw[key] = int(kw[key])
        if "Enabled" in kw:
            kw["Enabled"] = str(kw["Enabled"]).lower() == "true"
        if props.get("FilterCriteria"):
            log.warning("event_filter_not_applied", mapping=logical_id)
        self.client("lambda").create_event_source_mapping(**kw)  # the patch hands SQS ones to the poller

    def _create_state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.template is not None and self.resolver is not None
        if logical_id in self.template.definitions:
            definition = json.dumps(load_definition(self.template.definitions[logical_id]))
        elif "DefinitionString" in props:
            definition = str(props["DefinitionString"])
        elif "Definition" in props:
            definition = json.dumps(props["Definition"])
        else:
            raise TemplateError(f"{logical_id}: no definition (S3 DefinitionUri cannot be read locally)")
        # CloudFormation applies DefinitionSubstitutions; the Step Functions API knows nothing of them.
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", _attr(value))
        created = self.client("stepfunctions").create_state_machine(
            name=self.resolver.physical_name(logical_id),
            definition=definition,
            roleArn=props.get("RoleArn", f"arn:aws:iam::{self.account_id}:role/local"),
            type=props.get("StateMachineType", "STANDARD"),
        )
        self._state_machines.append(created["stateMachineArn"])

    def _create_rule(self, logical_id: str, props: dict[str, Any]) -> None:
        assert self.resolver is not None
        name = self.resolver.physical_name(logical_id)
        bus = str(props.get("EventBusName", "default")).rsplit("/", 1)[-1]
        kw: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            kw["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in props:
            kw["ScheduleExpression"] = props["ScheduleExpression"]
        if "Description" in props:
            kw["Description"] = props["Description"]
        events = self.client("events")
        events.put_rule(**kw)
        target_keys = (
            "Id",
            "Arn",
            "Input",
            "InputPath",
            "InputTransformer",
            "RoleArn",
            "SqsParameters",
            "RetryPolicy",
            "DeadLetterConfig",
        )
        targets = [{k: t[k] for k in target_keys if k in t} for t in props.get("Targets") or []]
        for target in targets:
            if isinstance(target.get("Input"), dict | list):
                target["Input"] = json.dumps(target["Input"])
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        if "ScheduleExpression" in props and kw["State"] == "ENABLED":
            assert self.resolver is not None
            self.scheduler.add(
                Schedule(logical_id, name, props["ScheduleExpression"], targets, "rule", self.resolver.arn(logical_id))
            )

    # ------------------------------------------------------------------ function URLs

    # A buffered function URL takes (and answers) at most 6 MB: Lambda's synchronous payload quota.
    FUNCTION_URL_MAX_BODY = 6 * 1024 * 1024

    def _bind_function_urls(self) -> None:
        """One loopback HTTP endpoint per AWS::Lambda::Url, bound now so ``!GetAtt <Url>.FunctionUrl``
        resolves to it (with the trailing slash AWS gives). Served by the same gateway code as the
        HTTP API, as function URL events are payload 2.0 with ``$default`` route and stage; the
        function's own Timeout is the only time limit, as in AWS (no 30 s integration cap)."""
        assert self.template is not None and self.resolver is not None
        for logical_id, res in self.template.resources.items():
            if res.get("Type") != "AWS::Lambda::Url" or not self.resolver.active(logical_id):
                continue
            url_id = f"local{logical_id.lower()}"[:32]
            endpoint = LocalGateway(
                [],
                FunctionRegistry([]),
                account_id="anonymous",  # what AuthType NONE puts in requestContext.accountId
                max_body_bytes=self.FUNCTION_URL_MAX_BODY,
                api_id=url_id,
                # No integration cap: the target function's own Timeout is the only time limit.
                integration_timeout_s=float("inf"),
            )
            self.function_urls[logical_id] = endpoint
            self.resolver.set_attribute(logical_id, "FunctionUrl", endpoint.url + "/")

    def _serve_function_urls(self) -> None:
        assert self.template is not None and self.resolver is not None and self.registry is not None
        for logical_id, endpoint in self.function_urls.items():
            props = self.template.resources[logical_id].get("Properties") or {}
            fn = self.registry.get(str(self.resolver.resolve(props.get("TargetFunctionArn"))))
            if fn is None:
                raise TemplateError(f"{logical_id}: TargetFunctionArn names no function of the template")
            if props.get("InvokeMode", "BUFFERED") != "BUFFERED":
                log.warning("function_url_streaming_buffered", url=logical_id, note="served buffered locally")
            endpoint.serve([HttpRoute(method="ANY", path="$default", function=fn.logical_id)], self.registry)
            log.info("function_url_started", url=logical_id, function=fn.logical_id, endpoint=endpoint.url)

    def _check_function_url(self, logical_id: str, props: dict[str, Any]) -> None:
        """Served by :meth:`_serve_function_urls`; nothing to create in moto. IAM (AuthType
        AWS_IAM, the resource policy) is not enforced locally, like every other policy."""
        if props.get("AuthType") != "NONE":
            log.warning("function_url_auth_not_enforced", url=logical_id, auth_type=props.get("AuthType"))

    def _apply_event_invoke_config(self, logical_id: str, props: dict[str, Any]) -> None:
        """Async retry count per function (destinations are not delivered locally)."""
        assert self.registry is not None
        fn = self.registry.get(str(props.get("FunctionName", "")))
        if fn is not None and "MaximumRetryAttempts" in props:
            fn.async_retries = int(props["MaximumRetryAttempts"])
        if props.get("DestinationConfig"):
            log.warning("async_destinations_not_delivered", config=logical_id)

    def _create_schedule(self, logical_id: str, props: dict[str, Any]) -> None:
        """EventBridge Scheduler: fired by the local scheduler (moto would store it, never fire it)."""
        if props.get("State", "ENABLED") != "ENABLED":
            return
        target = props.get("Target") or {}
        inp = target.get("Input")
        self.scheduler.add(
            Schedule(
                logical_id,
                str(props.get("Name", logical_id)),
                str(props["ScheduleExpression"]),
                [
                    {
                        "Arn": target.get("Arn", ""),
                        "Input": inp if isinstance(inp, str) or inp is None else json.dumps(inp),
                    }
                ],
                "scheduler",
            )
        )


_DUMMY_ZIP = _dummy_zip()


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def _ints(value: Any, keys: tuple[str, ...]) -> Any:
    """CloudFormation passes numbers from parameters as strings; the API wants integers."""
    if isinstance(value, list):
        return [_ints(v, keys) for v in value]
    if isinstance(value, dict):
        return {k: (int(v) if k in keys else _ints(v, keys)) for k, v in value.items()}
    return value
