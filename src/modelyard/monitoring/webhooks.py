"""Webhooks: each feed event POSTed to each receiver that wants it, signed, retried, logged.

The body is ``{"delivery": ID, "event": {id, kind, subject, created_at, data}}``; headers:

    X-Modelyard-Event: drift_detected
    X-Modelyard-Delivery: 4f0c…            (the same on every retry: deduplicate on it)
    X-Modelyard-Timestamp: 1767225600      (seconds; refuse old ones against replays)
    X-Modelyard-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>

A 2xx answer delivers it; anything else (or no answer within ``timeout_s``) is retried
after 1, 2, 4 … seconds, up to ``MAX_ATTEMPTS``, then the delivery is failed. Every attempt
is in the delivery log. A webhook's secret is derived from the workspace admin key and a
random salt stored with it (HMAC), so the database holds nothing that signs: the secret
is shown once when the webhook is added, and rotating the admin key rotates every secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
import orjson

from modelyard.config.secret import Secret
from modelyard.errors import ConfigError, ModelyardError
from modelyard.storage.feed import FeedEvent, FeedStore
from modelyard.storage.schema import utcnow
from modelyard.storage.webhooks import Delivery, Webhook, WebhookStore

log = logging.getLogger("modelyard.webhooks")
SIGNATURE = "X-Modelyard-Signature"
TIMESTAMP = "X-Modelyard-Timestamp"
EVENT = "X-Modelyard-Event"
DELIVERY = "X-Modelyard-Delivery"
MAX_ATTEMPTS = 10
BACKOFF_S = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
NO_KEY = (
    "webhooks sign with a secret derived from the admin key: set MODELYARD_ADMIN_KEY "
    "(or admin_key under [security]) where webhooks are added and sent"
)


def secret_for(admin_key: Secret | None, salt: str) -> str:
    """The signing secret of the webhook whose salt is ``salt``."""
    if not admin_key:
        raise ConfigError(NO_KEY)
    digest = hmac.new(
        admin_key.reveal().encode(), f"modelyard-webhook:{salt}".encode(), hashlib.sha256
    ).digest()
    return "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, received: str) -> bool:
    """What a receiver checks: the signature matches (constant-time compare)."""
    return hmac.compare_digest(signature(secret, timestamp, body), received)


@dataclass(frozen=True)
class Attempt:
    """What one POST got: the status, or the error that kept it from answering."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class Dispatcher:
    """Queues feed events for each webhook and sends the deliveries that are due."""

    def __init__(
        self,
        webhooks: WebhookStore,
        feed: FeedStore,
        admin_key: Secret | None,
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self._webhooks = webhooks
        self._feed = feed
        self._admin_key = admin_key
        self._timeout_s = timeout_s

    def post(self, webhook: Webhook, delivery_id: str, event: FeedEvent) -> Attempt:
        """POST one event to ``webhook``, signed; never raises."""
        body = orjson.dumps({"delivery": delivery_id, "event": event.to_dict()})
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "modelyard-webhooks",
            EVENT: event.kind,
            DELIVERY: delivery_id,
            TIMESTAMP: stamp,
            SIGNATURE: signature(secret_for(self._admin_key, webhook.salt), stamp, body),
        }
        try:
            answer = httpx.post(
                webhook.url, content=body, headers=headers, timeout=self._timeout_s, trust_env=False
            )
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:500])
        error = None if 200 <= answer.status_code < 300 else answer.text[:500]
        return Attempt(answer.status_code, error)

    def run_once(self, *, limit: int = 50) -> int:
        """Copy new registry and run events into the feed, queue each webhook's, send what
        is due; returns how many deliveries were attempted."""
        hooks = self._webhooks.list()
        if not hooks:
            return 0
        if not self._admin_key:
            log.warning("webhooks are not sent: %s", NO_KEY)
            return 0
        self._feed.sync()
        for hook in hooks:
            self._webhooks.enqueue(hook)
        due = self._webhooks.due(limit)
        for delivery, hook, event in due:
            self._attempt(delivery, hook, event)
        return len(due)

    def _attempt(self, delivery: Delivery, hook: Webhook, event: FeedEvent) -> None:
        attempt = self.post(hook, delivery.id, event)
        tries = delivery.attempts + 1
        later = None
        if not attempt.ok and tries < MAX_ATTEMPTS:
            later = utcnow() + timedelta(seconds=BACKOFF_S[min(tries - 1, len(BACKOFF_S) - 1)])
        try:
            self._webhooks.record(
                delivery, status=attempt.status, error=attempt.error, next_attempt_at=later
            )
        except ModelyardError as exc:
            log.warning(
                "webhook %s: the delivery log could not be written: %s", hook.id, exc.message
            )
            return
        if not attempt.ok:
            what = f"status {attempt.status}" if attempt.status else attempt.error
            outcome = (
                f"retry in {BACKOFF_S[min(tries - 1, len(BACKOFF_S) - 1)]} s" if later else "failed"
            )
            log.warning("webhook %s, event %s: %s; %s", hook.id, event.id, what, outcome)
