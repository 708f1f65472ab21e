"""One signed webhook POST with retries: the transport under `feedback.alerts`.

Body: Slack-compatible JSON (`{"text": ...}` is all a Slack incoming webhook
needs; the `event` and `data` keys carry the details for other receivers).
Signature: `X-Voxguard-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`,
the scheme GitHub uses (a receiver checks it with `hmac.compare_digest`);
`X-Voxguard-Event` and `X-Voxguard-Delivery` name the event and the delivery.

Retries: urllib3's `Retry` (a well-kept implementation of exponential backoff
that honours `Retry-After`), on connection errors and on 429/500/502/503/504;
POST is not retried by urllib3 by default, so it is allowed explicitly. Any
other status is final. Nothing here raises for a failed delivery: the outcome
is returned, for the delivery log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.util.retry import Retry

SIGNATURE_HEADER = "X-Voxguard-Signature-256"
EVENT_HEADER = "X-Voxguard-Event"
DELIVERY_HEADER = "X-Voxguard-Delivery"
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one POST (after its retries)."""

    delivered: bool
    attempts: int
    http_status: int | None
    error: str | None


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` (constant-time compare); for receivers and tests."""
    return hmac.compare_digest(sign(secret, body), header or "")


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, sort_keys=True, default=str).encode()


def post(url: str, payload: dict[str, Any], secret: str, event: str, delivery_id: str, *,
         retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 5.0) -> DeliveryResult:
    """POST `payload` to `url`, signed, retrying `retries` times with backoff `backoff_s` x 2^n."""
    body = encode(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "voxguard-alerts",
               SIGNATURE_HEADER: sign(secret, body), EVENT_HEADER: event, DELIVERY_HEADER: delivery_id}
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff_s,
                  status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"POST"}), raise_on_status=False,
                  respect_retry_after_header=True)
    with urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout_s)) as pool:
        try:
            response = pool.request("POST", url, body=body, headers=headers, retries=retry, redirect=False)
        except urllib3.exceptions.HTTPError as error:  # connection refused / timed out on every attempt
            reason = getattr(error, "reason", None) or error
            return DeliveryResult(False, retries + 1, None, f"{type(reason).__name__}: {reason}"[:500])
    attempts = 1 + len(response.retries.history) if response.retries is not None else 1
    ok = 200 <= response.status < 300
    error = None if ok else f"HTTP {response.status}: {response.data[:200].decode(errors='replace')}"
    return DeliveryResult(ok, attempts, response.status, error)
