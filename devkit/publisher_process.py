"""A publisher of its own, for tests and benchmarks beside other work on the shared local stack: a
process on the ports given, with a unique consumer group and state root, started at the end of the
shared topics so it handles only what its caller sends, and a development signing certificate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devkit.local_services import commit_end_offsets
from services.publisher.provenance.dev_ca import ensure_dev_ca
from twinwear.v1 import envelope_pb2
from twinwear_contracts.topics import ASSET_FEED, CONSENT, PRODUCTS, RENDER_RESULTS, TWINS
from twinwear_runtime.events import derive_id, wrap
from twinwear_runtime.kafka import EventProducer
from twinwear_runtime.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
API_TOKEN, ADMIN_TOKEN = "feed-itest-token", "feed-itest-admin"
CONSUMED = (RENDER_RESULTS, PRODUCTS, TWINS, CONSENT)


@dataclass(frozen=True)
class Ports:
    ops: int
    http: int
    grpc: int


@dataclass
class PublisherProcess:
    bootstrap: str
    workdir: Path
    ports: Ports
    name: str = field(default_factory=lambda: f"publisher-itest-{uuid.uuid4().hex[:8]}")
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        ensure_topics(self.bootstrap, 1, (*CONSUMED, ASSET_FEED))
        self.producer = EventProducer(self.bootstrap, f"{self.name}-client")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.ports.http}", timeout=30)
        self.log = self.workdir / f"{self.name}.log"
        credentials = ensure_dev_ca(self.workdir / "ca")
        self.ca_pem = credentials.ca_pem
        self.env = {
            **os.environ,
            "TWINWEAR_SERVICE_NAME": self.name,
            "TWINWEAR_INSTANCE_ID": self.name,
            "TWINWEAR_OPS_PORT": str(self.ports.ops),
            "TWINWEAR_HTTP_PORT": str(self.ports.http),
            "TWINWEAR_GRPC_PORT": str(self.ports.grpc),
            "TWINWEAR_BIND_ADDRESS": "127.0.0.1",
            "TWINWEAR_API_TOKEN": API_TOKEN,
            "TWINWEAR_ADMIN_TOKENS": f"reviewer:{ADMIN_TOKEN}",
            "TWINWEAR_C2PA_CERT": str(credentials.signer_chain_pem),
            "TWINWEAR_C2PA_KEY": str(credentials.signer_key_pem),
            "TWINWEAR_BATCH_SECONDS": "0.5",
        }
        # Earlier runs' results are not ours.
        commit_end_offsets(self.bootstrap, f"twinwear.{self.name}", [t.name for t in CONSUMED])

    def start(self, timeout: float = 120.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.publisher"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"publisher did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports.ops}/readyz", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def send(self, topic: str, key: str, payload, event_id: str | None = None) -> envelope_pb2.EventEnvelope:
        envelope = wrap(
            payload,
            producer="itest",
            key=key,
            event_id=event_id or derive_id(self.name, uuid.uuid4().hex),
            correlation_id=f"itest-{self.name}",
        )
        self.producer.publish([(topic, envelope)])
        return envelope

    def get(self, path: str, admin: bool = False, **params: str) -> httpx.Response:
        token = ADMIN_TOKEN if admin else API_TOKEN
        return self.http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})

    def post(self, path: str) -> httpx.Response:
        return self.http.post(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def close(self) -> None:
        self.stop()
        self.producer.close()
        self.http.close()
