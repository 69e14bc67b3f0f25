"""SAM to CloudFormation, offline, with aws-sam-translator; the result cached on disk.

The translator insists on S3 locations (the loader hands it placeholders) and a managed-policy
loader (a stub: IAM is not enforced locally). Importing it alone costs about half a second and the
stack should start in about one, so a translation is cached by its inputs and the translator's
version.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devstack.template_model import TemplateError
from shared.logging import get_logger

log = get_logger("devstack.sam_translate")

# Bump when the placeholder scheme or anything else that shapes the cached translation changes.
_CACHE_FORMAT = 1


class _StubPolicyLoader:
    """Managed policy names are not resolved locally (IAM is not enforced); nothing is fetched."""

    def load(self) -> dict[str, str]:
        return {}


def _translate(for_translator: dict[str, Any], params: Mapping[str, Any], region: str) -> dict[str, Any]:
    # Imported here: the translator is slow to import and only needed on a cache miss.
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    values = {k: (",".join(v) if isinstance(v, list) else v) for k, v in params.items()}
    template = copy.deepcopy(for_translator)
    to_py27_compatible_template(template, values)
    # A session only to tell the translator the region; it never calls AWS.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        out = translator.translate(template, parameter_values=values, get_managed_policy_map=_StubPolicyLoader().load)
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in getattr(exc, "causes", []))
        raise TemplateError(f"SAM translation failed: {exc} {causes}".strip()) from exc
    finally:
        translator.metrics.publish()  # to its dummy publisher; unpublished metrics warn on stderr
    return undo_mark_unicode_str_in_template(out)  # type: ignore[no-any-return]


def _cache_key(for_translator: Mapping[str, Any], params: Mapping[str, Any], region: str) -> str:
    import samtranslator  # cheap: the package __init__ only holds the version

    blob = json.dumps(
        [_CACHE_FORMAT, samtranslator.__version__, region, params, for_translator], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def translate_cached(
    for_translator: dict[str, Any], params: Mapping[str, Any], region: str, cache_dir: Path | None
) -> dict[str, Any]:
    if not for_translator.get("Transform"):
        return copy.deepcopy(for_translator)  # plain CloudFormation
    if cache_dir is None:
        return _translate(for_translator, params, region)
    cache_file = cache_dir / f"sam-{_cache_key(for_translator, params, region)}.json"
    try:
        return json.loads(cache_file.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        pass
    cfn = _translate(for_translator, params, region)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cfn))
        os.replace(tmp, cache_file)
    except OSError as exc:  # a read-only checkout still works, only slower
        log.warning("translation_cache_unwritable", path=str(cache_dir), error=str(exc))
    return cfn
