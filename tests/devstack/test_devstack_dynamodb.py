"""The DynamoDB patches: concurrent transactions are safe and a failed one undoes only its own items."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from devstack.stack import EmbeddedStack


def test_concurrent_transactions_keep_every_committed_write(stack: EmbeddedStack) -> None:
    ddb = stack.client("dynamodb")
    table = stack.physical_id("Table")

    def write(i: int) -> str:
        items = [
            {"Put": {"TableName": table, "Item": {"pk": {"S": f"ok-{i}"}, "n": {"N": str(i)}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": f"counter-{i % 4}"}},
                    "UpdateExpression": "ADD c :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
        if i % 5 == 0:  # every fifth transaction fails its condition and must leave no trace
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "never"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        try:
            ddb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            return exc.response["Error"]["Code"]
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(write, range(60)))
    assert outcomes.count("TransactionCanceledException") == 12 and outcomes.count("ok") == 48
    keys = {it["pk"]["S"]: it for it in ddb.scan(TableName=table)["Items"]}
    assert {f"ok-{i}" for i in range(60) if i % 5} <= set(keys)
    assert not {f"ok-{i}" for i in range(0, 60, 5)} & set(keys)
    # counters moved once per committed transaction, never undone by another's rollback
    assert sum(int(keys[f"counter-{k}"]["c"]["N"]) for k in range(4)) == 48


def test_failed_transaction_restores_the_items_it_changed(stack: EmbeddedStack) -> None:
    ddb = stack.client("dynamodb")
    table = stack.physical_id("Table")
    ddb.put_item(TableName=table, Item={"pk": {"S": "keep"}, "v": {"S": "before"}})
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "keep"}, "v": {"S": "after"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "missing"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "keep"}})["Item"]["v"]["S"] == "before"
