"""A thin DynamoDB table wrapper: (de)serialisation, conditional writes, cursors, error mapping.

Uses the low-level client with boto3's type (de)serialisers (cheaper to create than the resource
API). Numbers come back as int or float, never Decimal. ``ConditionalCheckFailed`` is raised for
failed conditions; every other AWS error becomes ``ServiceUnavailable``, so nothing above this
package sees botocore types.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import BadRequest, ServiceUnavailable


@cache
def _codec() -> tuple[Any, Any]:
    # Imported on the first item, for cold start: boto3.dynamodb.types runs boto3/__init__, which
    # loads boto3's session, botocore's and s3transfer (about 40 % of the API function's import,
    # bench/layer_import.py). The first DynamoDB call needs them anyway, with its client.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


class ConditionalCheckFailed(Exception):
    """A conditional write did not hold (the item existed, or was not in the expected state)."""

    def __init__(self, reasons: list[str] | None = None) -> None:
        super().__init__("conditional check failed")
        self.reasons = reasons or []


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    ser = _codec()[0]
    return {k: ser.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    de = _codec()[1]
    return {k: _from_dynamo(de.deserialize(v)) for k, v in item.items()}


def encode_cursor(key: Mapping[str, Any]) -> str:
    raw = json.dumps(deserialize(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected: Mapping[str, str]) -> dict[str, Any]:
    """Decode a cursor and check it belongs to the same listing (same partition key values)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        ok = isinstance(key, dict) and all(isinstance(v, str) for v in key.values())
    except (ValueError, TypeError):
        ok = False
    if not ok or any(key.get(k) != v for k, v in expected.items()):
        raise BadRequest("cursor is not valid for this listing", code="invalid_cursor")
    return serialize(key)


def _unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable("the data store is unavailable, try again", code="store_unavailable")


class Table:
    """One DynamoDB table through the low-level client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, op)(**kwargs)  # type: ignore[no-any-return]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise ConditionalCheckFailed() from exc
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                raise ConditionalCheckFailed(reasons) from exc
            if code == "ValidationException" and "ExclusiveStartKey" in kwargs:
                raise BadRequest("cursor is not valid for this listing", code="invalid_cursor") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        out = self._call(
            "get_item", TableName=self.name, Key=serialize({"pk": pk, "sk": sk}), ConsistentRead=consistent
        )
        return deserialize(out["Item"]) if "Item" in out else None

    def put(self, item: Mapping[str, Any], *, condition: str | None = None, **expr: Any) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        kwargs.update(_expr(**expr))
        self._call("put_item", **kwargs)

    def update_request(
        self,
        pk: str,
        sk: str,
        *,
        update: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The low-level parameters of one UpdateItem (also usable inside a transaction)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize({"pk": pk, "sk": sk}),
            "UpdateExpression": update,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        kwargs.update(_expr(names=names, values=values))
        return kwargs

    def update(
        self,
        pk: str,
        sk: str,
        *,
        update: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        kwargs = self.update_request(pk, sk, update=update, condition=condition, names=names, values=values)
        kwargs["ReturnValues"] = "ALL_NEW"
        return deserialize(self._call("update_item", **kwargs)["Attributes"])

    def transact_updates(self, updates: Iterable[dict[str, Any]]) -> None:
        """Apply several ``update_request`` results atomically."""
        self._call("transact_write_items", TransactItems=[{"Update": u} for u in updates])

    def transact_write(self, actions: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Apply mixed low-level requests atomically: ("Put" | "Update" | "Delete", params) pairs,
        params as ``update_request`` or ``delete_request`` make them."""
        self._call("transact_write_items", TransactItems=[{kind: params} for kind, params in actions])

    def delete_request(self, pk: str, sk: str, *, condition: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": serialize({"pk": pk, "sk": sk})}
        if condition:
            kwargs["ConditionExpression"] = condition
        return kwargs

    def delete(self, pk: str, sk: str, *, condition: str | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": serialize({"pk": pk, "sk": sk})}
        if condition:
            kwargs["ConditionExpression"] = condition
        self._call("delete_item", **kwargs)

    def transact_put(self, puts: Iterable[tuple[Mapping[str, Any], str | None]]) -> None:
        """Put several items atomically; each with an optional condition expression."""
        items = []
        for item, condition in puts:
            put: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
            if condition:
                put["ConditionExpression"] = condition
            items.append({"Put": put})
        self._call("transact_write_items", TransactItems=items)

    def query_page(
        self,
        *,
        key_condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        index: str | None = None,
        limit: int,
        start_key: dict[str, Any] | None = None,
        newest_first: bool = True,
        filter_expression: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "Limit": limit,
            "ScanIndexForward": not newest_first,
        }
        if index:
            kwargs["IndexName"] = index
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        kwargs.update(_expr(names=names, values=values))
        out = self._call("query", **kwargs)
        return [deserialize(i) for i in out.get("Items", [])], out.get("LastEvaluatedKey")


def _expr(names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if values:
        kwargs["ExpressionAttributeValues"] = serialize(values)
    return kwargs


def pack_json(item: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Store free-form JSON fields as strings: keeps their types exact (no Decimal round trip) and
    sidesteps DynamoDB's nesting and empty-value rules."""
    out = dict(item)
    for f in fields:
        value = out.pop(f, None)
        if value is not None:
            out[f"{f}_json"] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return out


def unpack_json(item: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    out = dict(item)
    for f in fields:
        raw = out.pop(f"{f}_json", None)
        out[f] = json.loads(raw) if raw is not None else None
    return out
