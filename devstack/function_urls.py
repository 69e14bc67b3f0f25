"""Function URLs: one loopback HTTP endpoint per AWS::Lambda::Url, served by the gateway code.

Function URL events are payload 2.0 with ``$default`` route and stage, so the HTTP API's gateway
serves BUFFERED ones too (RESPONSE_STREAM ones are streamed by devstack.web_adapter); the
function's own Timeout is the only time limit, as in AWS (no 30 s integration cap). IAM (AuthType
AWS_IAM, the resource policy) is not enforced locally, like every other policy.
"""

from __future__ import annotations

from devstack.gateway import LocalGateway
from devstack.runtime import FunctionRegistry
from devstack.template import HttpRoute, LocalTemplate, Resolver, TemplateError
from devstack.web_adapter import WebAdapterEndpoint
from shared.logging import get_logger

log = get_logger("devstack.function_urls")

# A buffered function URL takes (and answers) at most 6 MB: Lambda's synchronous payload quota.
FUNCTION_URL_MAX_BODY = 6 * 1024 * 1024


def bind_function_urls(template: LocalTemplate, resolver: Resolver) -> dict[str, LocalGateway | WebAdapterEndpoint]:
    """An endpoint per active AWS::Lambda::Url, bound (not yet serving) so that
    ``!GetAtt <Url>.FunctionUrl`` resolves to it, with the trailing slash AWS gives."""
    endpoints: dict[str, LocalGateway | WebAdapterEndpoint] = {}
    for logical_id, res in template.resources.items():
        if res.get("Type") != "AWS::Lambda::Url" or not resolver.active(logical_id):
            continue
        if (res.get("Properties") or {}).get("InvokeMode") == "RESPONSE_STREAM":
            endpoints[logical_id] = WebAdapterEndpoint(logical_id)
            resolver.set_attribute(logical_id, "FunctionUrl", endpoints[logical_id].url + "/")
            continue
        endpoint = LocalGateway(
            [],
            FunctionRegistry([]),
            account_id="anonymous",  # what AuthType NONE puts in requestContext.accountId
            max_body_bytes=FUNCTION_URL_MAX_BODY,
            api_id=f"local{logical_id.lower()}"[:32],
            # No integration cap: the target function's own Timeout is the only time limit.
            integration_timeout_s=float("inf"),
        )
        endpoints[logical_id] = endpoint
        resolver.set_attribute(logical_id, "FunctionUrl", endpoint.url + "/")
    return endpoints


def serve_function_urls(
    endpoints: dict[str, LocalGateway | WebAdapterEndpoint],
    template: LocalTemplate,
    resolver: Resolver,
    registry: FunctionRegistry,
) -> None:
    """Start serving each endpoint with the function its TargetFunctionArn names."""
    for logical_id, endpoint in endpoints.items():
        props = template.resources[logical_id].get("Properties") or {}
        fn = registry.get(str(resolver.resolve(props.get("TargetFunctionArn"))))
        if fn is None:
            raise TemplateError(f"{logical_id}: TargetFunctionArn names no function of the template")
        if isinstance(endpoint, WebAdapterEndpoint):
            # The Python managed runtime cannot stream a response; the Web Adapter layer can.
            if not fn.web_adapter:
                raise TemplateError(
                    f"{logical_id}: RESPONSE_STREAM needs a streaming runtime; the local stack streams "
                    "Lambda Web Adapter functions (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap, Handler: a start script)"
                )
            endpoint.serve(fn)
            log.info(
                "function_url_started", url=logical_id, function=fn.logical_id, endpoint=endpoint.url, mode="stream"
            )
            continue
        endpoint.serve([HttpRoute(method="ANY", path="$default", function=fn.logical_id)], registry)
        log.info("function_url_started", url=logical_id, function=fn.logical_id, endpoint=endpoint.url)
