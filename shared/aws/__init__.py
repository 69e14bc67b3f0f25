"""AWS adapters: the only modules besides ``shared/db`` that import boto3/botocore.

- :mod:`~shared.aws.clients`: lazy boto3 clients, one set per process;
- :mod:`~shared.aws.evidence_store`: the evidence bucket (S3);
- :mod:`~shared.aws.webhook_queue`: the webhook queue (SQS);
- :mod:`~shared.aws.executions`: run executions on the run state machine (Step Functions);
- :mod:`~shared.aws.event_bus`: the event bus (EventBridge).

Each turns botocore's errors into ours (shared/errors.py); nothing above them sees an AWS type.
:class:`~shared.services.Services` hands out the adapters.
"""

from shared.aws.clients import AwsClients

__all__ = ["AwsClients"]
