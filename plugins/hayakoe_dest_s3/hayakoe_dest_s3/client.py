"""The boto3 client the S3 hooks share, and the translation of its errors into one-line messages.

The client uses boto3's standard credential chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, SSO, instance roles, ...) and endpoint resolution (``AWS_ENDPOINT_URL_S3``, else
``AWS_ENDPOINT_URL``; empty or unset means AWS). The region is passed explicitly: botocore reads
``AWS_DEFAULT_REGION`` but not ``AWS_REGION``, which is the name hayakoe saves.

Every request has hayakoe's connect and read timeouts and a bounded number of attempts
(:mod:`hayakoe_core.network`; ``AWS_MAX_ATTEMPTS``, when set, wins for API calls), and so does
every part of a transfer. No message, and no exception chained to one, shows a credential or an
endpoint's user-info.

Checksums: boto3 ≥ 1.36 adds a CRC32 checksum to every upload (an aws-chunked trailer over
HTTPS), which some S3-compatible stores reject (Cloudflare R2). The client therefore computes
checksums only where the API requires one (``when_required``), unless
``AWS_REQUEST_CHECKSUM_CALCULATION`` / ``AWS_RESPONSE_CHECKSUM_VALIDATION`` say otherwise
(``when_supported`` is boto3's default). Integrity does not depend on it: every object the
plugin writes carries its sha256 (:mod:`hayakoe_dest_s3.transfer`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from hayakoe_core.errors import (
    HayakoeError,
    SourceNotFoundError,
    UnreachableError,
    UrlError,
    redact,
    redact_logs,
    scrub,
)
from hayakoe_core.network import timeouts
from hayakoe_core.types import Target

# Threads per hook call: files in flight times parts in flight per file, plus listing.
FILE_WORKERS = 4
PART_WORKERS = 4

_CREDENTIALS_HINT = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
# S3 error code -> what the user should check.
_AUTH_HINTS = {
    "InvalidAccessKeyId": "the S3 server does not know this access key: check AWS_ACCESS_KEY_ID "
    "(or the profile named by AWS_PROFILE)",
    "SignatureDoesNotMatch": "the S3 server rejected the request signature: check that "
    "AWS_SECRET_ACCESS_KEY is the secret of AWS_ACCESS_KEY_ID",
    "InvalidToken": "the S3 server rejected the session token: refresh AWS_SESSION_TOKEN "
    "(or log in again for AWS_PROFILE)",
    "ExpiredToken": "the AWS session token has expired: refresh AWS_SESSION_TOKEN "
    "(or log in again for AWS_PROFILE)",
    "AuthorizationHeaderMalformed": "the bucket lives in another region: set AWS_REGION to it",
    "PermanentRedirect": "the bucket lives in another region: set AWS_REGION to it",
}
_DENIED = ("AccessDenied", "AllAccessDisabled", "403")  # HEAD requests report a bare "403"
_CHECKSUM_MODES = ("when_required", "when_supported")
# Where botocore reads the endpoint from, first wins.
_ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# Clients by the AWS_* environment and timeouts they were built with.
_CLIENTS: dict[tuple[tuple[str, str], ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def endpoint_shown() -> str | None:
    """The endpoint the environment names, checked, without user-info; ``None`` for AWS.

    Raises :class:`UrlError` naming the variable when it is not an ``http(s)://`` URL.
    """
    for name in _ENDPOINT_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UrlError(
                    f"{name}={redact(value)!r} is not an endpoint URL: write it with http:// or "
                    f"https://, e.g. http://{redact(value).split('://')[-1]}"
                )
            return _shown(value).rstrip("/")
    return None


def make_client() -> Any:
    """The S3 client for the current environment, shared by every call made with the same AWS
    settings and timeouts (building one costs ~0.1 s; boto3 clients are safe to share between
    threads)."""
    endpoint = endpoint_shown()
    limits = timeouts()
    key = (tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))), limits)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = _new_client(endpoint)
    return client


def _new_client(endpoint: str | None) -> Any:
    """A client for ``endpoint`` (``None``: AWS), given without the user-info S3 has no use for,
    so that no URL the client logs or raises carries it."""
    import boto3
    from botocore.config import Config

    redact_logs("boto3", "botocore", "s3transfer", "urllib3")
    limits = timeouts()
    retries: dict[str, Any] = {"mode": "standard"}
    if not os.environ.get("AWS_MAX_ATTEMPTS"):
        retries["total_max_attempts"] = limits.attempts
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION") or None,
        config=Config(
            connect_timeout=limits.connect,
            read_timeout=limits.read,
            retries=retries,
            max_pool_connections=FILE_WORKERS * PART_WORKERS + 2,
            user_agent_extra="hayakoe",
            request_checksum_calculation=_checksum_mode("AWS_REQUEST_CHECKSUM_CALCULATION"),
            response_checksum_validation=_checksum_mode("AWS_RESPONSE_CHECKSUM_VALIDATION"),
        ),
    )


def _checksum_mode(variable: str) -> str:
    """The checksum mode ``variable`` asks for; ``when_required`` when it is unset or empty."""
    mode = os.environ.get(variable, "").strip().lower() or "when_required"
    if mode not in _CHECKSUM_MODES:
        raise HayakoeError(f"{variable} must be when_required or when_supported, not {mode!r}")
    return mode


def transfer_config() -> Any:
    """The TransferConfig for every upload and download (multipart above 8 MiB, parts in parallel,
    a body that stops arriving retried as often as a request)."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(max_concurrency=PART_WORKERS, num_download_attempts=timeouts().attempts)


def _shown(endpoint: str) -> str:
    """An endpoint URL without any ``user:password@`` part."""
    parts = urlsplit(endpoint)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


@contextmanager
def connect(target: Target) -> Iterator[Any]:
    """Yield a client for ``target``; any S3 failure inside becomes a one-line HayakoeError
    (:class:`UnreachableError` when the server cannot be reached or does not answer in time).

    User-fixable failures (credentials, endpoint, bucket, permissions, region) name the variable
    to set; no message contains a secret.
    """
    endpoint = "the S3 endpoint"
    try:
        client = make_client()
        endpoint = _shown(client.meta.endpoint_url)
        yield client
    except Exception as exc:
        mapped = _translate(exc, target, endpoint)
        scrub(exc)
        if mapped is None or mapped is exc:
            raise
        raise scrub(mapped) from exc


def _translate(exc: Exception, target: Target, endpoint: str) -> HayakoeError | None:
    """The one-line error for a failure inside :func:`connect` (``None``: not the user's)."""
    from boto3.exceptions import RetriesExceededError, S3UploadFailedError
    from botocore import exceptions as bx
    from s3transfer.exceptions import RetriesExceededError as DownloadRetriesExceededError

    if isinstance(exc, HayakoeError):
        return exc
    if isinstance(exc, S3UploadFailedError):  # boto3 keeps the ClientError only as the context
        cause = exc.__context__
        if isinstance(cause, bx.ClientError):
            return _from_client_error(cause, target, endpoint)
        return HayakoeError(f"upload to {target} failed: {exc}")
    if isinstance(exc, bx.ClientError):
        return _from_client_error(exc, target, endpoint)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return HayakoeError(f"no complete AWS credentials found: {_CREDENTIALS_HINT}")
    if isinstance(exc, bx.ProfileNotFound):
        return HayakoeError(f"{exc}: fix AWS_PROFILE or add the profile to ~/.aws/config")
    if isinstance(exc, (bx.CredentialRetrievalError, bx.SSOError)):
        return HayakoeError(f"could not get AWS credentials ({exc}): {_CREDENTIALS_HINT}")
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return UnreachableError(
            f"no answer from {endpoint} for {target} within the {timeouts().describe()}: check "
            "the server, AWS_ENDPOINT_URL_S3 and your network"
        )
    network = (bx.ConnectionError, bx.HTTPClientError, RetriesExceededError, DownloadRetriesExceededError)
    if isinstance(exc, network):
        return UnreachableError(
            f"cannot reach {endpoint} for {target} ({type(exc).__name__}): check AWS_ENDPOINT_URL_S3 "
            "(leave it empty for AWS) and your network"
        )
    return None


def _from_client_error(exc: Any, target: Target, endpoint: str) -> HayakoeError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    operation = exc.operation_name
    if code == "NoSuchBucket":
        return SourceNotFoundError(
            f"bucket {target.location!r} does not exist at {endpoint}: create it, or fix the "
            "s3:// URL or AWS_ENDPOINT_URL_S3"
        )
    if code in _AUTH_HINTS:
        return HayakoeError(f"{_AUTH_HINTS[code]} ({operation} on {target})")
    if code in _DENIED:
        return HayakoeError(
            f"access denied ({operation} on {target}): the credentials from AWS_ACCESS_KEY_ID "
            "or AWS_PROFILE lack permission for this bucket"
        )
    message = error.get("Message") or "no message"
    return HayakoeError(f"S3 error {code or 'unknown'} ({operation} on {target}): {message}")
