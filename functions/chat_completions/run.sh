#!/bin/sh
# ChatCompletionsFunction's start command. The Lambda Web Adapter (its layer, started through
# AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) runs this script as the "handler", waits for the server to
# answer its readiness check, then turns each function URL request into an HTTP request to it and
# streams the answer back (AWS_LWA_INVOKE_MODE=response_stream). The layers' /opt/python is not on
# a plain python3's path, so it is added here, as Lambda adds it for managed handlers.
# The local stack reads the module from the `-m` below and serves its WSGI `app` itself.
PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:/opt/python:${PYTHONPATH}" exec python3 -m chat_completions_handler
