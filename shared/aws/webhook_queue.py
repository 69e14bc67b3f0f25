"""The webhook queue (SQS): send a message, postpone a received one."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import ServiceUnavailable


class WebhookQueueUnavailable(ServiceUnavailable):
    code = "webhook_queue_unavailable"


class WebhookQueue:
    def __init__(self, client: Any, queue_url: str | None) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, body: str) -> None:
        """Queue ``body``; WebhookQueueUnavailable if the queue is not configured or cannot be reached."""
        if not self.queue_url:
            raise WebhookQueueUnavailable("the webhook queue is not configured")
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except (BotoCoreError, ClientError) as exc:
            raise WebhookQueueUnavailable("the webhook queue is unavailable, try again") from exc

    def postpone(self, source_arn: str, receipt_handle: str, delay_s: int) -> None:
        """Make a received message invisible for ``delay_s`` seconds. The queue is the configured one,
        else the record's source queue (``arn:aws:sqs:region:account:name``)."""
        try:
            url = self.queue_url
            if not url:
                _, _, _, _, account, name = source_arn.split(":", 5)
                url = str(self.client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
            self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s)
        except (BotoCoreError, ClientError) as exc:
            raise WebhookQueueUnavailable(f"could not postpone the message: {exc}") from exc
