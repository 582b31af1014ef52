"""Soak: N publish + load cycles against SeaweedFS and the Hub test server, under random faults.

    .venv/bin/python bench/soak.py [--cycles N] [--seed S] [--work DIR]

Each cycle picks a destination (S3 on a local SeaweedFS, or the project's Hub test server, both
on 127.0.0.1 behind a fault proxy from tests/support/faultproxy.py) and one fault: none; a
stall, a reset, a dropped connection or a trickle (both ways) while staging; Ctrl-C or SIGKILL
of the ``hayakoe publish`` process at a random phase; on S3, the server killed mid-staging (and
restarted once the publish has ended); on the Hub, a 500, 409 or 412 on the promote commit. It
publishes the other of two checkpoints of the tiny test speaker over the live one (a real
``hayakoe publish`` subprocess), runs the same command again if that failed, checks every file a
reader sees, and loads the speaker with the public API from an empty cache (``TTS("cpu")
.load(...).prepare()`` and one ``generate``).

Printed: cycles run, success rate after the re-run, speakers lost or mixed (must be 0: after
the fault the destination holds the old speaker byte for byte or the new one whole, everything
else byte-identical), stale staging left (must be 0: staging areas, multipart uploads, leases,
ledger records), publishes that hung, cycles that raised (an error of a cycle's own — a load
that failed, a publish that ended before the phase its signal waited for — is reported with the
cycle and the soak goes on), and time per cycle. Exit status 1 if any of the last four is not 0.
Times are indicative only when the machine is otherwise idle.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.publish.faults.scene import Scene
    from tests.support.faultproxy import FaultProxy
    from tests.support.hubserver import HubServer
    from tests.support.s3server import LocalS3Server

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHASES = ("export", "hashing", "staging", "verification", "promote")
QUICK = {"HAYAKOE_READ_TIMEOUT": "3", "HAYAKOE_CONNECT_TIMEOUT": "3", "HAYAKOE_ATTEMPTS": "1"}
TOKEN = "hf_soak_write"
HUNG_S = 300.0  # a publish still running this long after its fault counts as hung


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def faults_for(kind: str) -> list[str]:
    signals = [f"{sig}@{phase}" for sig in ("SIGINT", "SIGKILL") for phase in PHASES]
    own = ["hub-500", "hub-409", "hub-412"] if kind == "hf" else ["s3-kill"]
    return ["none", "stall", "reset", "drop", "trickle", *signals, *own]


@dataclass
class Tally:
    cycles: int = 0
    published: int = 0
    lost_or_mixed: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="hayakoe-soak-"))
    work.mkdir(parents=True, exist_ok=True)

    # huggingface_hub reads its endpoint once, when first imported: the proxy's port is fixed now.
    hub_port, hub_proxy_port = _free_port(), _free_port()
    for key in [k for k in os.environ if k.startswith(("AWS_", "HF_", "HAYAKOE_"))]:
        del os.environ[key]
    os.environ.update(
        HF_ENDPOINT=f"http://127.0.0.1:{hub_proxy_port}", HF_HOME=str(work / "hf-home"), HF_TOKEN=TOKEN,
        HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1",
        HAYAKOE_CACHE=str(work / "cache"),
    )  # fmt: skip

    from tests.support.faultproxy import FaultProxy
    from tests.support.hubserver import HubServer
    from tests.support.s3server import LocalS3Server

    s3_server = LocalS3Server()  # entered, it gives the endpoint; the server itself is killed
    with s3_server as s3, HubServer(work / "hub", {TOKEN: ("soak", "write")}, port=hub_port) as hub:
        s3_port = int(s3.url.rsplit(":", 1)[1])
        with (
            FaultProxy(("127.0.0.1", s3_port)) as s3_proxy,
            FaultProxy(("127.0.0.1", hub_port), port=hub_proxy_port) as hub_proxy,
        ):
            os.environ.update(s3.env(), AWS_ENDPOINT_URL_S3=s3_proxy.url)
            bucket = f"soak-{uuid.uuid4().hex[:12]}"
            s3.client().create_bucket(Bucket=bucket)
            soak = Soak(work, random.Random(args.seed), hub, s3_server, {"s3": s3_proxy, "hf": hub_proxy})
            tally = soak.run(args.cycles, {"s3": f"s3://{bucket}/voices", "hf": "hf://soak/voices"})
    return report(tally)


class Soak:
    """The cycles (see the module docstring); imports that reach huggingface_hub happen here, after
    :func:`main` pointed it at the proxy."""

    def __init__(
        self,
        work: Path,
        rng: random.Random,
        hub: HubServer,
        s3: LocalS3Server,
        proxies: dict[str, FaultProxy],
    ) -> None:
        self.work, self.rng, self.hub, self.s3, self.proxies = work, rng, hub, s3, proxies

    def run(self, cycles: int, urls: dict[str, str]) -> Tally:
        import dataclasses

        from hayakoe_core.manifest import sha256_file
        from hayakoe_core.publish.pipeline import publish_plan
        from hayakoe_core.registry import get_registry
        from tests.publish.faults.scene import Scene
        from tests.publish.speakers import speaker_folder
        from tests.publish.test_destinations import snapshot
        from tests.publish.test_pipeline import plan_for, retrain
        from tests.support.repo import CHECKPOINT

        folder = speaker_folder(self.work / "spk")
        checkpoint = folder / CHECKPOINT.name
        original = checkpoint.read_bytes()
        retrain(folder)
        versions = [original, checkpoint.read_bytes()]
        scenes: dict[str, Scene] = {}
        for kind, url in urls.items():  # other + tiny live at both destinations
            store = get_registry().open(url)
            plan = plan_for(folder, self.work / "unused", self.work, destination=store.url)
            for name in ("other", "tiny"):
                publish_plan(dataclasses.replace(plan, name=name, verify=False, overwrite=True))
            scenes[kind] = Scene(store, folder, self.work, {}, "")
        tally = Tally()
        live = dict.fromkeys(urls, 1)  # which version of tiny each destination holds
        for cycle in range(cycles):
            kind = self.rng.choice(sorted(urls))
            fault = self.rng.choice(faults_for(kind))
            scene = scenes[kind]
            live[kind] = 1 - live[kind]  # publish the other one
            checkpoint.write_bytes(versions[live[kind]])
            scene.before = snapshot(scene.store, self.work / f"before-{cycle}")
            scene.new_sha = sha256_file(checkpoint)
            started = time.monotonic()
            try:
                outcome = self.cycle(scene, kind, fault, tally, cycle)
            except Exception as exc:  # the cycle failed; the others still run and the report says so
                tally.raised.append(f"cycle {cycle + 1}: {kind} {fault}: {type(exc).__name__}: {exc}")
                outcome = f"RAISED {type(exc).__name__}"
            tally.seconds.append(time.monotonic() - started)
            tally.cycles += 1
            took = tally.seconds[-1]
            print(f"cycle {cycle + 1}/{cycles}: {kind} {fault}: {outcome} ({took:.1f} s)", flush=True)
        return tally

    def cycle(self, scene: Scene, kind: str, fault: str, tally: Tally, cycle: int) -> str:
        from tests.publish.faults.scene import leftovers
        from tests.support.faultproxy import Fault
        from tests.support.hubserver import FaultRule
        from tests.support.publisher import Finished, Publisher, run_publish

        proxy = self.proxies[kind]
        network = {
            "stall": Fault.stall(), "reset": Fault.reset(0), "drop": Fault.drop_after(0),
            # 3 MB/s each way: slow, yet each request's body drains within the read timeout
            "trickle": Fault.trickle(64 * 1024, 0.02, requests=True),
        }  # fmt: skip
        env = scene.env(**QUICK)
        args = scene.args()
        rules = {"hub-500": "500", "hub-409": "busy", "hub-412": "412"}
        if fault in rules:
            self.hub.set_faults([FaultRule("commit", rules[fault], nth=2)])
        killed = False
        try:
            with Publisher(args, env=env, cwd=self.work) as pub:
                if fault in network:
                    pub.wait_for("hashing")
                    proxy.set_fault(network[fault], existing=fault == "stall")
                    if fault in ("reset", "drop"):  # cut the kept-alive connections too
                        proxy.close_connections()
                elif fault == "s3-kill":
                    pub.wait_for("staging")
                    self.s3.kill()
                    killed = True
                elif "@" in fault:
                    sig, phase = fault.split("@")
                    pub.wait_for(phase)
                    pub.kill(getattr(signal, sig))
                try:
                    first = pub.finish(HUNG_S)
                except subprocess.TimeoutExpired:
                    tally.hung.append(f"cycle {cycle + 1}: {kind} {fault}")
                    first = Finished(-1, "", "")  # killed on leaving the block; the re-run must finish it
        finally:  # the next cycle starts without this one's fault, whatever happened
            if killed:
                self.s3.restart()
            proxy.set_fault(Fault.passthrough())
            proxy.close_connections()
            self.hub.set_faults([])
        try:
            scene.assert_old_or_new()
        except AssertionError as exc:
            tally.lost_or_mixed.append(f"cycle {cycle + 1} after {fault}: {exc}")
            return "LOST OR MIXED"
        outcome = "published" if first.returncode == 0 else f"exit {first.returncode} ({first.last_line()})"
        if first.returncode != 0:
            again = run_publish(args, env=scene.env(), cwd=self.work)
            if again.returncode != 0:
                return f"{outcome}, re-run failed: {again.last_line()}"
            outcome += ", re-run published"
        try:
            assert scene.assert_old_or_new() == "new"
        except AssertionError as exc:
            tally.lost_or_mixed.append(f"cycle {cycle + 1} after the re-run: {exc}")
            return "LOST OR MIXED"
        stale = leftovers(scene.store)
        tally.stale += [f"cycle {cycle + 1}: {s}" for s in stale]
        self.load(scene.store.url, cycle)
        tally.published += 1
        return outcome + (f", {len(stale)} stale" if stale else "")

    def load(self, url: str, cycle: int) -> None:
        from hayakoe_core.tts import TTS

        tts = TTS("cpu", cache_dir=self.work / f"load-{cycle}", bert_source=url)
        audio = tts.load("tiny", source=url).prepare().speakers["tiny"].generate("テストです。")
        assert audio.duration > 0


def report(tally: Tally) -> int:
    rate = tally.published / tally.cycles if tally.cycles else 0.0
    per = tally.seconds or [0.0]
    print(f"cycles run: {tally.cycles}")
    print(f"success rate after re-run: {tally.published}/{tally.cycles} ({100 * rate:.0f}%)")
    print(f"speakers lost or mixed: {len(tally.lost_or_mixed)}")
    for line in tally.lost_or_mixed:
        print(f"  {line}")
    print(f"publishes that hung (over {HUNG_S:g} s): {len(tally.hung)}")
    for line in tally.hung:
        print(f"  {line}")
    print(f"stale staging left: {len(tally.stale)}")
    for line in tally.stale:
        print(f"  {line}")
    print(f"cycles that raised: {len(tally.raised)}")
    for line in tally.raised:
        print(f"  {line}")
    print(
        f"time per cycle: median {statistics.median(per):.1f} s, max {max(per):.1f} s "
        "(shared machine: indicative only)"
    )
    return 1 if tally.lost_or_mixed or tally.stale or tally.hung or tally.raised else 0


if __name__ == "__main__":
    sys.exit(main())
