import io
import json

from shared import logging as oh_logging


def test_secrets_are_redacted_and_ids_bound() -> None:
    stream = io.StringIO()
    oh_logging.configure(stream=stream)
    try:
        oh_logging.bind_context(org_id="org_1", run_id="run_2")
        oh_logging.get_logger("t").info(
            "called",
            headers={"authorization": "Bearer oh_live_abcdefghijklmnop", "accept": "json"},
            note="leaked oh_test_abcdefghijkl and whsec_QUJDREVGR0hJSktM",
            password="p@ss",
        )
    finally:
        oh_logging.clear_context()
        oh_logging.configure()
    line = json.loads(stream.getvalue())
    assert line["org_id"] == "org_1" and line["run_id"] == "run_2"
    assert line["headers"] == {"authorization": "[REDACTED]", "accept": "json"}
    assert line["password"] == "[REDACTED]"
    assert "oh_test_" not in line["note"] and "whsec_" not in line["note"]
