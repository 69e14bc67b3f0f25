"""The few moto patches the local stack needs, pinned to moto 5.2.5.

Each patch is small, says why it exists, and delegates to moto for everything it does not
change. They are installed once per process (:func:`install`) and act only while a runtime is
active (:func:`activate`); with none active, moto behaves as shipped.

Why patches at all: moto runs Lambda functions in Docker (or returns a canned answer), fails a
whole PutEvents for Lambda/Step Functions targets, and handles SQS event source mappings inside
SendMessage only. The local stack needs every one of those paths to reach the handler that the
template names, in this process.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import threading
import types
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import moto
from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction
from moto.core.exceptions import JsonRESTError
from moto.events.models import EventsBackend, Rule

from devstack import limits
from devstack.event_targets import envelope, target_input
from devstack.runtime import FunctionRegistry, PayloadTooLarge
from shared.logging import get_logger

log = get_logger("devstack.patches")

MOTO_VERSION = "5.2.5"
if moto.__version__ != MOTO_VERSION:  # the patched internals are private; re-check them on upgrade
    raise RuntimeError(f"devstack patches are written for moto=={MOTO_VERSION}, found {moto.__version__}")


class Runtime(Protocol):
    """What the patches need from the running local stack."""

    registry: FunctionRegistry

    def deliver(self, target_arn: str, event: Any, source: str) -> None: ...

    def on_event_source_mapping(self, esm: EventSourceMapping) -> None: ...


_active: Runtime | None = None
_installed = False
_install_lock = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}


def activate(runtime: Runtime) -> None:
    """Route moto's invoke paths to ``runtime`` (one local stack per process at a time)."""
    global _active
    install()
    if _active is not None and _active is not runtime:
        raise RuntimeError(
            "another EmbeddedStack is already running in this process; one at a time, because "
            "os.environ and moto's state are process-wide (stop it first: in pytest, scope the "
            "stack fixture to the module rather than the session)"
        )
    _active = runtime


def deactivate(runtime: Runtime) -> None:
    global _active
    if _active is runtime:
        _active = None


def install() -> None:
    """Install the patches (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _import_sfn_interpreter()
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        _originals["start_execution"] = StepFunctionsParserBackend.start_execution
        StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
        _originals["send_task_success"] = StepFunctionsParserBackend.send_task_success
        StepFunctionsParserBackend.send_task_success = _send_task_success  # type: ignore[method-assign]
        _originals["invoke_lambda"] = LambdaFunction._invoke_lambda
        _originals["invoke"] = LambdaFunction.invoke
        _originals["create_esm"] = LambdaBackend.create_event_source_mapping
        _originals["send_to_targets"] = Rule.send_to_targets
        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
        LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
        LambdaBackend.create_event_source_mapping = _create_event_source_mapping  # type: ignore[method-assign]
        Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
        _install_dynamodb_patches()
        _install_callback_patch()
        _install_put_events_limit()
        _install_terminal_errors_patch()
        _install_sfn_client_cache()
        _installed = True


# moto 5.2.5: a waitForTaskToken task with HeartbeatSeconds registers its callback, invokes the
# Lambda, and only then sets up the heartbeat endpoint it waits on. A SendTaskSuccess that arrives
# in between (an agent that reports back within milliseconds of its start) is stored but never
# wakes the waiter, which then reports States.Timeout after HeartbeatSeconds (seen in
# bench/pipeline.py: ~10% of runs under load). AWS has no such window. The patch: a heartbeat
# endpoint created after the outcome arrived starts out notified.
def _install_callback_patch() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    original = CallbackEndpoint.setup_heartbeat_endpoint
    _originals["setup_heartbeat_endpoint"] = original

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        endpoint = original(self, heartbeat_seconds)
        if self._outcome is not None:
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]


# moto 5.2.5: PutEvents accepts entries of any size. EventBridge measures each entry (Time, Source,
# DetailType, Detail, Resources; devstack/limits.py) and refuses a request past the quota as a whole,
# so an event too large for AWS never reaches a rule locally either.
def _install_put_events_limit() -> None:
    from moto.events.exceptions import ValidationException

    original = EventsBackend.put_events
    _originals["put_events"] = original

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        size = sum(limits.eventbridge_entry_bytes(e) for e in events)
        limits.note("eventbridge_entry", size)
        if size > limits.EVENTBRIDGE_ENTRY_BYTES:
            log.error("put_events_too_large", bytes=size, limit=limits.EVENTBRIDGE_ENTRY_BYTES)
            raise ValidationException("Total size of the entries in the request is over the limit.")
        return original(self, events)

    EventsBackend.put_events = put_events  # type: ignore[method-assign]


# moto 5.2.5: "States.ALL" in a Retry or Catch matches every error. In AWS it matches neither
# States.DataLimitExceeded nor States.Runtime ("a terminal error that can't be caught by the States.ALL
# error type", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): a
# state past the 256 KiB payload quota fails the execution even under a catch-all, and locally too.
def _install_terminal_errors_patch() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    terminal = (StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime)
    original = ErrorEqualsDecl._eval_body
    _originals["error_equals_eval"] = original

    def _eval_body(self: Any, env: Any) -> None:
        error_name = env.stack[-1]
        catch_all = ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names
        if catch_all and isinstance(error_name, StatesErrorName) and error_name.typ in terminal:
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = _eval_body  # type: ignore[method-assign]


# moto 5.2.5: the Step Functions interpreter builds a new boto3 client for every task it runs
# (boto_client_for: 8-40 ms on this machine, plus a fresh connection pool), three per run for the
# run state machine's Lambda tasks. Step Functions has no such per-task cost. The function ignores
# the state's credentials (it always signs as "ak"/"sk"), so one client per (region, service, the
# endpoint it would pick) is the same client, reused (botocore clients are thread-safe).
_sfn_clients: dict[tuple[Any, ...], Any] = {}
_sfn_clients_lock = threading.Lock()
_SFN_CLIENT_USERS = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
)


def _install_sfn_client_cache() -> None:
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    _originals["boto_client_for"] = original

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, botocore_stubber.enabled, None if botocore_stubber.enabled else moto_server_port())
        with _sfn_clients_lock:
            client = _sfn_clients.get(key)
            if client is None:
                client = _sfn_clients[key] = original(
                    region=region, service=service, state_credentials=state_credentials
                )
        return client

    boto_client.boto_client_for = boto_client_for
    for name in _SFN_CLIENT_USERS:
        module = importlib.import_module(name)
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


# moto 5.2.5: the DynamoDB backend has no locking, and TransactWriteItems deep-copies every table it
# touches so it can roll back. With the local stack's concurrent handlers that copy iterates dicts
# other threads are writing ("RuntimeError: dictionary changed size during iteration", seen under
# bench/api.py), a failed transaction's rollback can undo other requests' writes, and the copy costs
# O(table) per transaction. So: every DynamoDB action runs under one lock (DynamoDB itself is
# linearizable per item; one lock is the simple, safe local model), and a transaction's rollback
# snapshot covers only the items it names: while this thread runs TransactWriteItems, deep-copying
# a Table hands back the table itself, so moto's own rollback (reassigning the "copies") changes
# nothing. Every other deep copy of a table (CreateBackup, a transaction in no local stack) copies.
_dynamo_lock = threading.RLock()
_in_transaction = threading.local()


def _install_dynamodb_patches() -> None:
    import moto.dynamodb.models as ddb_models
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    _originals["dynamo_call_action"] = DynamoHandler.call_action
    _originals["transact_write_items"] = ddb_models.DynamoDBBackend.transact_write_items
    DynamoHandler.call_action = _dynamo_call_action  # type: ignore[method-assign]
    ddb_models.DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    if getattr(_in_transaction, "active", False):
        return self  # the transaction's backup: _transact_write_items snapshots its items instead
    # What copy.deepcopy does for a plain object without __deepcopy__ (Table defines no __slots__).
    clone = type(self).__new__(type(self))
    memo[id(self)] = clone
    clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
    return clone


def _dynamo_call_action(self: Any) -> Any:
    with _dynamo_lock:
        return _originals["dynamo_call_action"](self)


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    snapshots: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table_name = op.get("TableName")
        table = self.tables.get(table_name)
        if table is None:
            continue
        key = op.get("Key")
        if key is None and "Item" in op:
            names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
            key = {n: op["Item"][n] for n in names if n in op["Item"]}
        if not key:
            continue
        try:
            before = self.get_item(table_name, key)
        except Exception:  # an invalid key: moto's own validation below reports it
            continue
        snapshots.append((table_name, key, copy.deepcopy(before.to_json()["Attributes"]) if before else None))
    with _dynamo_lock:
        _in_transaction.active = True
        try:
            _originals["transact_write_items"](self, transact_items)
        except Exception:
            for table_name, key, attrs in reversed(snapshots):
                if attrs is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise
        finally:
            _in_transaction.active = False


# moto 5.2.5: the Step Functions interpreter imports moto.batch.utils for one enum, and importing
# it runs moto.batch's __init__, which loads the EC2 models and their region/instance JSON: ~0.8 s
# of a ~1 s stack start, for a service the stack never uses. The interpreter is imported here with
# moto.batch briefly stubbed as a bare package, so only utils loads; the stub is removed afterwards
# and a later real ``import moto.batch`` loads the full package as usual.
def _import_sfn_interpreter() -> None:
    if "moto.stepfunctions.parser.models" in sys.modules or "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or not spec.submodule_search_locations:
        return
    stub = types.ModuleType("moto.batch")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules["moto.batch"] = stub
    try:
        import moto.stepfunctions.parser.models  # noqa: F401
    finally:
        for name in [n for n in sys.modules if n == "moto.batch" or n.startswith("moto.batch.")]:
            sys.modules.pop(name, None)


# moto 5.2.5: with execute_state_machine on, StartExecution without a name creates an execution
# literally named "None" (the interpreter's backend lacks the plain backend's uuid default), so the
# second unnamed start of a machine fails with ExecutionAlreadyExists. Unnamed executions get a
# uuid, as in AWS.
# Also: the Step Functions API refuses an execution input or a task output past 256 KiB ("Length
# Constraints: Maximum length of 262144", as UTF-8 bytes) with a ValidationException; moto accepts both.
def _start_execution(self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
    _check_sfn_payload("input", args[0] if args else kwargs.get("execution_input"))
    return _originals["start_execution"](self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)


def _send_task_success(self: Any, task_token: str, outcome: str) -> Any:
    _check_sfn_payload("output", outcome)
    return _originals["send_task_success"](self, task_token, outcome)


def _check_sfn_payload(member: str, value: str | None) -> None:
    from moto.stepfunctions.exceptions import ValidationException

    size = limits.json_bytes(value) if value is not None else 0
    limits.note("sfn_api_payload", size)
    if size > limits.SFN_PAYLOAD_BYTES:
        raise ValidationException(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {limits.SFN_PAYLOAD_BYTES}"
        )


# moto 5.2.5: LambdaFunction._invoke_lambda(event) -> (payload, errored, logs) starts a Docker
# container. Every synchronous invoke (Invoke API, Step Functions lambda:invoke and
# .waitForTaskToken, DynamoDB/Kinesis mappings) passes through it, so this is the one place to run
# the template's handler in-process instead. Lambda.use_docker stays untouched: its "simple"
# backend would bypass this method and answer canned results.
def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    runtime = _active
    if runtime is None:  # no local stack running: moto as shipped (other tests in the process)
        return _originals["invoke_lambda"](self, event)  # type: ignore[no-any-return]
    fn = runtime.registry.get(self.function_arn)
    if fn is None:
        payload = {
            "errorType": "ResourceNotFoundException",
            "errorMessage": f"{self.function_name} is not a function of the local stack's template",
        }
        return json.dumps(payload), True, ""
    if isinstance(event, str):  # moto hands "{}" (a string) for an empty body
        event = json.loads(event or "{}")
    try:
        payload, errored = fn.invoke(event)
    except PayloadTooLarge as exc:
        raise _RequestTooLarge(exc, "RequestResponse") from exc
    return payload, errored, ""


class _RequestTooLarge(JsonRESTError):
    """Lambda's answer to an Invoke whose payload is past the invocation type's quota."""

    code = 413

    def __init__(self, exc: PayloadTooLarge, invocation_type: str) -> None:
        super().__init__(
            "RequestTooLargeException",
            f"{exc.size} byte payload is too large for the {invocation_type} invocation type (limit {exc.limit} bytes)",
        )


# moto 5.2.5: LambdaFunction.invoke runs InvocationType=Event synchronously and answers only
# afterwards. Lambda queues the event and answers 202 at once; callers that fire and forget must
# not wait for the handler, so Event invokes go to the registry's async queue.
def _invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
    runtime = _active
    fn = runtime.registry.get(self.function_arn) if runtime else None
    if fn is not None and (request_headers or {}).get("x-amz-invocation-type") == "Event":
        try:
            runtime.registry.invoke_async(fn, json.loads(body) if body else {}, source="lambda:Invoke")  # type: ignore[union-attr]
        except PayloadTooLarge as exc:
            raise _RequestTooLarge(exc, "Event") from exc
        return b""
    return _originals["invoke"](self, body, request_headers, response_headers)  # type: ignore[no-any-return]


# moto 5.2.5: create_event_source_mapping registers an SQS mapping on the queue, and
# Queue.add_message then invokes the function synchronously inside SendMessage, one receive per
# send, with nothing to redeliver delayed or failed messages. The local stack polls the queues
# itself like Lambda's poller, so the mapping is detached from the queue (no double processing)
# and handed to the runtime's poller.
def _create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    esm: EventSourceMapping = _originals["create_esm"](self, spec)
    runtime = _active
    if runtime is not None and esm.event_source_arn.split(":")[2] == "sqs":
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == esm.event_source_arn:
                queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        runtime.on_event_source_mapping(esm)
    return esm


# moto 5.2.5: Rule.send_to_targets raises NotImplementedError for Lambda and Step Functions
# targets, which fails the whole PutEvents, and sends SQS targets the whole event whatever their
# Input or InputPath says (those are delivered here). Lambda targets are invoked asynchronously here (as
# EventBridge does) with the event envelope; Step Functions targets start an execution; every
# other target goes back to moto. Disabled rules deliver nothing (moto ignores State).
def _send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    runtime = _active
    if runtime is None:
        return _originals["send_to_targets"](self, original_event, transform_input)  # type: ignore[no-any-return]
    if getattr(self, "state", "ENABLED") != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return None
    ours, queues, theirs = [], [], []
    for target in self.targets:
        service = target["Arn"].split(":")[2]
        if service in ("lambda", "states"):
            ours.append(target)
        elif service == "sqs" and ("Input" in target or "InputPath" in target):
            queues.append(target)  # moto sends the whole event, ignoring Input and InputPath
        else:
            theirs.append(target)
    for target in ours:
        event = target_input(target, envelope(original_event), transform_input)
        runtime.deliver(target["Arn"], event, f"events:{self.name}")
    for target in queues:
        from moto.sqs import sqs_backends

        body = target_input(target, envelope(original_event), transform_input)
        _, _, _, region, account, queue = target["Arn"].split(":")
        sqs_backends[account][region].send_message(queue_name=queue, message_body=json.dumps(body))
    if theirs:
        rest = copy.copy(self)  # shallow copy: other threads may deliver through the same rule
        rest.targets = theirs
        _originals["send_to_targets"](rest, original_event, transform_input)
    return None
