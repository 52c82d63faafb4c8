"""Run the four services as local processes against the stack of infra/stack.sh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from services.publisher.provenance.dev_ca import ensure_dev_ca
from twinwear_contracts.topics import CONSENT, PIM_INBOX, PRODUCTS, RENDER_REQUESTS, RENDER_RESULTS, TWINS

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = Path(os.environ.get("TWINWEAR_STACK_DIR", ROOT / ".stack")) / "logs"


@dataclass(frozen=True)
class LocalService:
    name: str
    ops_port: int


SERVICES = (
    LocalService("ingestion", 9101),
    LocalService("ingestion.pim", 9105),
    LocalService("twin_builder", 9102),
    LocalService("render", 9103),
    LocalService("publisher", 9104),
)
INGESTION_HTTP = "http://127.0.0.1:8080"
INGESTION_GRPC = "127.0.0.1:50051"
# Ingestion's API token on a developer's machine, used unless TWINWEAR_API_TOKEN is set.
DEV_API_TOKEN = "twinwear-dev-token"
# The admin token (talent, consent, review, ledger, reports) on a developer's machine;
# TWINWEAR_ADMIN_TOKENS holds "name:token" pairs, and the name is who decided.
DEV_ADMIN_TOKEN = "twinwear-dev-admin-token"
DEV_ADMIN_TOKENS = f"dev:{DEV_ADMIN_TOKEN}"


# The PIM mapping the local aggregator uses: the example that ships with it.
DEV_PIM_MAPPING = ROOT / "services" / "ingestion" / "pim" / "mapping.example.toml"


def dev_publisher_env() -> dict[str, str]:
    """Development settings: the admin token, and the publisher's C2PA signing certificate from
    the development CA (made under .stack/cache/c2pa on first use)."""
    credentials = ensure_dev_ca(LOG_DIR.parent / "cache" / "c2pa")
    return {
        "TWINWEAR_ADMIN_TOKENS": DEV_ADMIN_TOKENS,
        "TWINWEAR_C2PA_CERT": str(credentials.signer_chain_pem),
        "TWINWEAR_C2PA_KEY": str(credentials.signer_key_pem),
    }


def api_token() -> str:
    """The token clients send: TWINWEAR_API_TOKEN's first one, else the local development token."""
    return os.environ.get("TWINWEAR_API_TOKEN", DEV_API_TOKEN).split(",")[0].strip()


# The consumer groups and what they read, for skip_backlog.
CONSUMED = {
    "twinwear.ingestion-aggregator": (PIM_INBOX.name,),
    "twinwear.twin_builder": (PRODUCTS.name,),
    "twinwear.render": (RENDER_REQUESTS.name,),
    "twinwear.publisher": (RENDER_RESULTS.name, PRODUCTS.name, TWINS.name, CONSENT.name),
}


def skip_backlog(bootstrap: str = "127.0.0.1:9092") -> None:
    """Move the services' consumer groups to the end of their topics, so that a test or benchmark
    sees only the work it sends, not what earlier runs on this shared local stack left unconsumed
    (the ingestion API tests accept hundreds of products). Only while the services are stopped;
    a stopped static member stays in its group for a session timeout, so the commit is retried."""
    for group, topics in CONSUMED.items():
        deadline = time.monotonic() + 60
        while True:
            try:
                commit_end_offsets(bootstrap, group, topics)
                break
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def commit_end_offsets(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Commit ``group``'s offsets at the ends of ``topics``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if partitions:
            consumer.assign(partitions)
            ends = consumer.end_offsets(partitions)
            consumer.commit({tp: OffsetAndMetadata(ends[tp], "", -1) for tp in partitions})
    finally:
        consumer.close()


class ServiceFailed(RuntimeError):
    pass


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


class RunningServices:
    def __init__(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        self.processes = processes

    def stop(self, name: str, timeout: float = 30.0) -> int:
        """SIGTERM one service (as Kubernetes does) and wait for it; return its exit code."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self, name: str) -> None:
        """SIGKILL one service, as a node failure or the OOM killer would: no clean shutdown."""
        process = self.processes[name]
        process.kill()
        process.wait()

    def restart(self, name: str) -> None:
        """Start a stopped or killed service again and wait until it is ready."""
        [service] = [s for s in SERVICES if s.name == name]
        self.processes[name] = start_services((service,)).processes[name]

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)


def start_services(
    services: tuple[LocalService, ...] = SERVICES, env: Mapping[str, str] | None = None, timeout: float = 90.0
) -> RunningServices:
    """Start the services, logging to .stack/logs/<name>.log, and wait until each is ready."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    busy = [s.name for s in services if _ready(s.ops_port)]
    if busy:
        raise ServiceFailed(f"already running on their ops ports: {', '.join(busy)} (stop them first)")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for service in services:
        log = (LOG_DIR / f"{service.name}.log").open("ab")
        processes[service.name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service.name}"],
            cwd=ROOT,
            env={
                "TWINWEAR_API_TOKEN": DEV_API_TOKEN,
                "TWINWEAR_PIM_MAPPING": str(DEV_PIM_MAPPING),
                "TWINWEAR_IMAGE_FETCH_ALLOW_PRIVATE": "1",
                **dev_publisher_env(),
                **os.environ,
                **(env or {}),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningServices(processes)
    deadline = time.monotonic() + timeout
    waiting = list(services)
    while waiting:
        for service in list(waiting):
            code = processes[service.name].poll()
            if code is not None:
                running.stop_all()
                log_path = LOG_DIR / f"{service.name}.log"
                raise ServiceFailed(f"{service.name} exited with {code}:\n{_log_tail(log_path)}")
            if _ready(service.ops_port):
                waiting.remove(service)
        if waiting and time.monotonic() > deadline:
            running.stop_all()
            raise ServiceFailed(f"not ready after {timeout:.0f}s: {', '.join(s.name for s in waiting)}")
        time.sleep(0.2)
    return running


@contextmanager
def services_running(
    services: tuple[LocalService, ...] = SERVICES, env: Mapping[str, str] | None = None
) -> Iterator[RunningServices]:
    """Run the services for the duration of the block, then SIGTERM them."""
    running = start_services(services, env)
    try:
        yield running
    finally:
        running.stop_all()
