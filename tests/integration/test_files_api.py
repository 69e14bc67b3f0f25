"""Files through the API handler against moto: both upload paths, limits, org isolation, attaching."""

from __future__ import annotations

import hashlib

from shared.models import files as limits
from shared.orgs import bootstrap_org
from shared.services import Services
from tests.support.apigw import call, http_event

BOUNDARY = "xYzBoundary"


def multipart(name: str, data: bytes, content_type: str = "text/plain", field: str = "file") -> tuple[bytes, str]:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def upload(key: str, name: str, data: bytes, content_type: str = "text/plain", field: str = "file") -> object:
    body, ctype = multipart(name, data, content_type, field)
    return call(http_event("POST", "/v1/files", raw_body=body, key=key, headers={"content-type": ctype}))


def test_small_upload_is_ready_and_readable_by_its_org_only(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    r = upload(key, "notes.txt", b"hello crew")
    assert r.status == 201, r.text
    assert r.json["status"] == "ready" and r.json["sha256"] == hashlib.sha256(b"hello crew").hexdigest()
    file_id = r.json["id"]
    got = call(http_event("GET", f"/v1/files/{file_id}", key=key))
    assert got.status == 200 and got.json["download_url"]
    assert svc.file_store.get(f"files/{org_key[0]}/{file_id}") == b"hello crew"

    _, other = bootstrap_org("globex", svc)
    assert call(http_event("GET", f"/v1/files/{file_id}", key=other)).status == 404
    assert call(http_event("DELETE", f"/v1/files/{file_id}", key=other)).status == 404
    refused = call(http_event("POST", "/v1/runs", body={"prompt": "send it", "file_ids": [file_id]}, key=other))
    assert refused.status == 422 and refused.json["error"]["code"] == "file_not_found"
    assert call(http_event("GET", "/v1/files", key=other)).json["data"] == []

    assert call(http_event("DELETE", f"/v1/files/{file_id}", key=key)).status == 204
    assert call(http_event("GET", f"/v1/files/{file_id}", key=key)).status == 404


def test_uploads_are_checked(svc: Services, org_key: tuple[str, str]) -> None:
    _, key = org_key
    assert upload(key, "x.exe", b"MZ", "application/x-msdownload").json["error"]["code"] == "file_not_accepted"
    assert upload(key, "..", b"x").json["error"]["code"] == "file_not_accepted"
    assert upload(key, "a.txt", b"x", field="other").json["error"]["code"] == "file_missing"
    assert upload(key, "a.txt", b"").json["error"]["code"] == "file_empty"
    big = upload(key, "big.bin", b"0" * (limits.MAX_SMALL_UPLOAD_BYTES + 1), "application/octet-stream")
    assert big.status == 413
    huge = call(
        http_event(
            "POST",
            "/v1/files",
            body={"name": "a.csv", "size": limits.MAX_FILE_BYTES + 1, "content_type": "text/csv"},
            key=key,
        )
    )
    assert huge.status == 422 and huge.json["error"]["details"][0]["loc"] == ["body", "size"]
    assert call(http_event("GET", "/v1/files", key=key)).json["data"] == []  # nothing was stored


def test_presigned_upload_is_pending_until_s3_has_it_and_cannot_be_attached_before(
    svc: Services, org_key: tuple[str, str]
) -> None:
    org_id, key = org_key
    r = call(http_event("POST", "/v1/files", body={"name": "t.csv", "size": 5, "content_type": "text/csv"}, key=key))
    assert r.status == 200, r.text
    fields = r.json["fields"]
    assert fields["Content-Type"] == "text/csv" and fields["key"] == f"files/{org_id}/{r.json['file']['id']}"
    file_id = r.json["file"]["id"]
    early = call(http_event("POST", "/v1/runs", body={"prompt": "send it", "file_ids": [file_id]}, key=key))
    assert early.status == 422 and early.json["error"]["code"] == "file_not_ready"
    svc.aws.s3.put_object(Bucket="openhelm-files-test", Key=fields["key"], Body=b"1234")  # not the size announced
    assert call(http_event("GET", f"/v1/files/{file_id}", key=key)).json["status"] == "pending"
    svc.aws.s3.put_object(Bucket="openhelm-files-test", Key=fields["key"], Body=b"12345")
    assert call(http_event("GET", f"/v1/files/{file_id}", key=key)).json["status"] == "ready"
    run = call(http_event("POST", "/v1/runs", body={"prompt": "send it", "file_ids": [file_id]}, key=key))
    assert run.status == 202, run.text
    item = svc.runs.get(org_id, run.json["task_id"])
    assert item.input_files == [{"id": file_id, "name": "t.csv", "size": 5, "content_type": "text/csv"}]


def test_an_org_holds_at_most_its_quota_of_files(moto_aws: None) -> None:
    from shared.api import deps
    from tests.support.aws import make_services

    svc = make_services(OPENHELM_MAX_FILES_PER_ORG="2")
    deps.override(svc)
    try:
        _quota_of_two(svc)
    finally:
        deps.override(None)


def _quota_of_two(svc: Services) -> None:
    _, key = bootstrap_org("acme", svc)
    assert upload(key, "a.txt", b"a").status == 201
    second = upload(key, "b.txt", b"b")
    assert second.status == 201
    third = upload(key, "c.txt", b"c")
    assert third.status == 409 and third.json["error"]["code"] == "file_quota_reached"
    assert call(http_event("DELETE", f"/v1/files/{second.json['id']}", key=key)).status == 204
    assert upload(key, "c.txt", b"c").status == 201
