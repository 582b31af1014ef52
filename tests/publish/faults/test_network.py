"""Network faults during a real ``hayakoe publish``: a store that stalls, resets or drops the
connection (a fault proxy) from staging, verification or promote on, the Hub test server's own
faults (5xx on LFS uploads and commits, 409 commit-in-progress, 412 parent moved), and the S3
server killed mid-staging and mid-promote.

Each asserts what readers see (the old ``tiny`` or the new one whole, everything else
byte-identical), the exit code and the one line (what happened, and that re-running is safe),
then that the same command succeeds and leaves nothing behind. A stalled store fails within a
bound set by ``HAYAKOE_READ_TIMEOUT`` / ``HAYAKOE_CONNECT_TIMEOUT`` / ``HAYAKOE_ATTEMPTS``
(hayakoe_core/network.py); the tests set 2 s, 2 s and 1 attempt.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.publish.faults.scene import Scene, make_scene, one_line_saying_rerun_is_safe, rerun_finishes
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.hubserver import FaultRule, HubServer
from tests.support.publisher import VERIFIED, Publisher, run_publish
from tests.support.s3server import LocalS3Server, S3Endpoint

QUICK = {"HAYAKOE_READ_TIMEOUT": "2", "HAYAKOE_CONNECT_TIMEOUT": "2", "HAYAKOE_ATTEMPTS": "1"}
#: A promote cut short on S3 leaves its lease; the re-run waits this long for it to lapse.
SHORT_LEASE = {"HAYAKOE_S3_LEASE_SECONDS": "5"}
#: With those settings a stalled store ends the command within this. S3: each request in flight,
#: then the removal of the fresh staging area, waits one read timeout. The Hub client retries a
#: timed-out request 5 times (about 6 × 2 s + 23 s of waits), for the failing request and for the
#: removal of the staging branch. The machine running the suite is shared and busy.
STALL_BOUND_S = {"s3": 60.0, "hf": 180.0}

FAULTS = {
    "stall": Fault.stall(),
    "reset": Fault.reset(after=0),
    "drop": Fault.drop_after(0),
    "drop-mid-body": Fault.drop_after(64 * 1024),  # inside a file's body: a download's
}
#: The line after which a phase's fault is set, so that the phase's requests meet it: staging's
#: once the files are hashed; verification's once its line is printed (the verifying process
#: starts its downloads a second later); the promote's once the staged speaker has spoken.
FAULT_FROM = {"staging": "hashing", "verification": "verification", "promote": VERIFIED}


def _case(kind: str, fault: str, phase: str, *, slow: bool = True) -> object:
    return pytest.param(kind, fault, phase, marks=pytest.mark.slow if slow else ())


@pytest.mark.parametrize(
    ("kind", "fault", "phase"),
    [
        _case("s3", "stall", "staging", slow=False),
        *(_case("s3", f, "staging") for f in ("reset", "drop")),
        *(_case("hf", f, "staging") for f in ("stall", "reset", "drop")),
        *(_case(k, f, "verification") for k in ("s3", "hf") for f in ("stall", "reset", "drop-mid-body")),
        *(_case(k, f, "promote") for k in ("s3", "hf") for f in ("stall", "reset", "drop")),
    ],
)
def test_a_store_failing_mid_publish_loses_nothing_and_the_rerun_finishes(
    kind: str, fault: str, phase: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    proxy: FaultProxy = request.getfixturevalue("s3_proxy" if kind == "s3" else "hub_proxy")
    scene = make_scene(kind, request, tmp_path)

    with Publisher(scene.args(), env=scene.env(**QUICK, **SHORT_LEASE), cwd=tmp_path) as pub:
        pub.wait_for(FAULT_FROM[phase])
        proxy.set_fault(FAULTS[fault], existing=fault == "stall")
        if fault != "stall":
            proxy.close_connections()  # kept-alive connections meet the fault too
        started = time.monotonic()
        failed = pub.finish()
        took = time.monotonic() - started
    proxy.set_fault(Fault.passthrough())
    proxy.close_connections()

    line = one_line_saying_rerun_is_safe(failed)
    if fault == "stall" and phase != "verification":
        assert "no answer" in line and "HAYAKOE_READ_TIMEOUT" in line, line
    if fault == "stall":
        assert took < STALL_BOUND_S[kind], f"a stalled store took {took:.1f} s to fail"
    with pytest.MonkeyPatch.context() as env:
        if kind == "s3":  # what the store holds, read past the proxy (the publisher's road)
            env.setenv("AWS_ENDPOINT_URL_S3", request.getfixturevalue("s3_env").url)
        seen = scene.assert_old_or_new()
    assert seen == "old" or phase == "promote", "the speaker went live though the publish failed early"
    rerun_finishes(scene, tmp_path, SHORT_LEASE)


@pytest.fixture
def hub_scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Scene, HubServer]]:
    scene = make_scene("hf", request, tmp_path)
    hub: HubServer = request.getfixturevalue("hub")
    yield scene, hub
    hub.set_faults([])


def _commits(hub: HubServer) -> int:
    return sum(1 for method, path in hub.requests if method == "POST" and "/commit/" in path)


@pytest.mark.parametrize(
    ("rule", "outcome"),
    [
        # the first commit stages, the second promotes; the retrained speaker has one LFS file
        # to send (synthesizer.onnx: the others are the same bytes)
        pytest.param(FaultRule("commit", "busy", nth=2), "retried", marks=pytest.mark.slow),
        pytest.param(FaultRule("commit", "412", nth=2), "retried", marks=pytest.mark.slow),
        pytest.param(FaultRule("commit", "500", nth=2, count=100), "failed", marks=pytest.mark.slow),
        pytest.param(FaultRule("lfs_upload", "500", nth=1, count=100), "failed", marks=pytest.mark.slow),
        pytest.param(FaultRule("commit", "500", nth=1, count=100), "failed", marks=pytest.mark.slow),
    ],
    ids=["409-busy-promote", "412-promote", "500-promote", "500-lfs-upload", "500-stage-commit"],
)
def test_hub_faults_are_retried_where_safe_and_otherwise_fail_cleanly(
    rule: FaultRule, outcome: str, hub_scene: tuple[Scene, HubServer], tmp_path: Path
) -> None:
    scene, hub = hub_scene
    hub.clear_log()
    hub.set_faults([rule])
    run = run_publish(scene.args(), env=scene.env(**QUICK), cwd=tmp_path)
    hub.set_faults([])

    if outcome == "retried":  # a busy or moved branch is the promote's compare-and-swap at work
        assert run.returncode == 0, run.stderr
        assert _commits(hub) >= 3, hub.requests
        scene.assert_published()
        return
    one_line_saying_rerun_is_safe(run)
    assert scene.assert_old_or_new() == "old"
    rerun_finishes(scene, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["staging", "promote"])
def test_the_s3_server_killed_mid_publish_then_restarted(
    phase: str,
    aws_isolated: None,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server = LocalS3Server()
    endpoint: S3Endpoint = server.start()
    request.addfinalizer(server.stop)
    for key, value in endpoint.env().items():
        monkeypatch.setenv(key, value)
    bucket = f"t-{uuid.uuid4().hex[:20]}"
    endpoint.client().create_bucket(Bucket=bucket)
    # The phase is slowed by a trickling proxy so the kill lands inside it.
    parts = urlsplit(endpoint.url)
    with FaultProxy((parts.hostname or "127.0.0.1", parts.port or 80)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        scene = make_scene("s3", request, tmp_path, url=f"s3://{bucket}/voices")
        with Publisher(scene.args(), env=scene.env(**QUICK, **SHORT_LEASE), cwd=tmp_path) as pub:
            pub.wait_for(FAULT_FROM[phase])
            proxy.set_fault(Fault.trickle(64, 0.05))
            pub.wait_for(phase)
            server.kill()
            failed = pub.finish()
        proxy.set_fault(Fault.passthrough())
        line = one_line_saying_rerun_is_safe(failed)
        assert "cannot reach" in line or "no answer" in line, line
        server.restart()
        seen = scene.assert_old_or_new()
        assert seen == "old" or phase == "promote", "the speaker went live though staging failed"
        rerun_finishes(scene, tmp_path, SHORT_LEASE)
