"""Each moto internal that devstack/patches.py replaces or reads still exists with the shape the
patch assumes. The moto pin makes an upgrade fail at import; these tests say which patch to
re-read and why, one symbol each, instead of a stack that misbehaves somewhere downstream.

The signatures are read from moto's originals (kept in ``patches._originals`` once installed), so
the tests hold whether or not another test of this process already started a stack.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from typing import Any

import pytest

from devstack import patches


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    patches.install()


def params(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


def original(key: str) -> Callable[..., Any]:
    fn = patches._originals[key]
    assert callable(fn), key
    return fn


def test_moto_is_the_pinned_version() -> None:
    import moto

    assert moto.__version__ == patches.MOTO_VERSION


def test_lambda_invoke_paths() -> None:
    # _invoke_lambda(event) -> (payload, errored, logs): every synchronous invoke passes through it.
    assert params(original("invoke_lambda")) == ["self", "event"]
    assert "tuple[str, bool, str]" in str(inspect.signature(original("invoke_lambda")).return_annotation)
    # invoke(body, request_headers, response_headers): where InvocationType=Event is read.
    assert params(original("invoke")) == ["self", "body", "request_headers", "response_headers"]
    assert params(original("create_esm")) == ["self", "spec"]


def test_lambda_objects_carry_the_attributes_the_patches_read() -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaFunction

    for name in ("function_arn", "function_name"):
        assert name in inspect.getsource(LambdaFunction.__init__), name
    for name in ("event_source_arn", "function_arn"):
        assert f"self.{name}" in inspect.getsource(EventSourceMapping.__init__), name


def test_sqs_queue_keeps_its_mappings_in_a_dict_by_function_arn() -> None:
    # _create_event_source_mapping detaches a mapping with queue.lambda_event_source_mappings.pop(arn).
    from moto.sqs.models import Queue

    queue = Queue("q", region="us-east-1", account_id="123456789012")
    assert isinstance(queue.lambda_event_source_mappings, dict)
    assert queue.queue_arn.endswith(":q")


def test_eventbridge_rule_and_put_events() -> None:
    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser

    assert params(original("send_to_targets")) == ["self", "original_event", "transform_input"]
    assert params(original("put_events")) == ["self", "events"]
    assert params(EventTemplateParser.parse) == ["input_template", "input_paths_map", "event"]
    source = inspect.getsource(Rule.__init__)
    for name in ("self.name", "self.state", "self.event_pattern", "self.targets"):
        assert name in source, name


def test_step_functions_start_and_task_success() -> None:
    # _start_execution reads the input as the third positional or as execution_input.
    assert params(original("start_execution"))[:4] == ["self", "state_machine_arn", "name", "execution_input"]
    assert params(original("send_task_success")) == ["self", "task_token", "outcome"]


def test_callback_endpoint_outcome_and_heartbeat() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    assert params(original("setup_heartbeat_endpoint")) == ["self", "heartbeat_seconds"]
    endpoint = CallbackEndpoint("cb")
    assert endpoint._outcome is None  # the patch notifies a heartbeat endpoint once this is set


def test_error_equals_catch_all_and_terminal_error_names() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    assert params(original("error_equals_eval")) == ["self", "env"]
    assert isinstance(ErrorEqualsDecl._STATE_ALL_ERROR, StatesErrorName)
    assert ErrorEqualsDecl._STATE_ALL_ERROR.typ is StatesErrorNameType.StatesALL
    for typ in (StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime):
        assert StatesErrorName(typ=typ).typ is typ


def test_dynamodb_action_and_transaction_entry_points() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    assert params(original("dynamo_call_action")) == ["self"]
    assert params(original("transact_write_items")) == ["self", "transact_items"]
    # the rollback of _transact_write_items: get_item(table, key), put_item(table, attrs), delete_item(table, key)
    assert params(DynamoDBBackend.get_item)[:3] == ["self", "table_name", "keys"]
    assert params(DynamoDBBackend.put_item)[:3] == ["self", "table_name", "item_attrs"]
    assert params(DynamoDBBackend.delete_item)[:3] == ["self", "table_name", "key"]


def test_transaction_backs_up_tables_by_deep_copy_and_only_ours_skips_it() -> None:
    # The one operation the Table.__deepcopy__ patch changes: moto's TransactWriteItems backs up each
    # table it touches with copy.deepcopy. If moto stopped doing so, the patch would be dead code;
    # if Table grew a __deepcopy__ of its own, ours would have replaced it.
    from moto.dynamodb.models.table import Table

    source = "".join(inspect.getsource(original("transact_write_items")).split())
    assert "original_table_state[table_name]=copy.deepcopy(self.tables[table_name])" in source
    assert Table.__deepcopy__ is patches._table_deepcopy  # type: ignore[attr-defined]
    assert not any("__deepcopy__" in vars(c) for c in Table.__mro__[1:])


def test_table_deep_copy_is_real_outside_a_transaction_and_skipped_inside() -> None:
    from moto.dynamodb.models.table import Table

    table = Table(
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        attr=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    clone = copy.deepcopy(table)
    assert clone is not table and clone.name == "t" and clone.items is not table.items

    seen: list[bool] = []
    patches._in_transaction.active = True
    try:
        assert copy.deepcopy(table) is table
        other = threading.Thread(target=lambda: seen.append(copy.deepcopy(table) is table))
        other.start()
        other.join()
    finally:
        patches._in_transaction.active = False
    assert seen == [False]  # another thread's copy (CreateBackup, say) is a real one


def test_sfn_interpreter_import_needs_only_batch_utils() -> None:
    # _import_sfn_interpreter stubs moto.batch so that only moto.batch.utils loads.
    import importlib.util

    spec = importlib.util.find_spec("moto.batch")
    assert spec is not None and spec.submodule_search_locations
    assert importlib.util.find_spec("moto.batch.utils") is not None


def test_sfn_task_clients_are_built_once() -> None:
    # boto_client_for(region, service, state_credentials) signs as "ak"/"sk" whatever the state's
    # credentials say (so one client per region and service is the same client), and every module
    # that imported it now holds the caching wrapper.
    import importlib

    from moto.stepfunctions.parser.asl.utils import boto_client

    assert params(original("boto_client_for")) == ["region", "service", "state_credentials"]
    assert "state_credentials" not in inspect.getsource(original("boto_client_for")).split("boto3.client(")[1]
    for name in patches._SFN_CLIENT_USERS:
        assert importlib.import_module(name).boto_client_for is boto_client.boto_client_for, name
    first = boto_client.boto_client_for(region="us-east-1", service="lambda")
    assert boto_client.boto_client_for(region="us-east-1", service="lambda", state_credentials=object()) is first
