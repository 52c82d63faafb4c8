"""Benchmark of the runtime's overhead (not a test): one consumer stage with a no-op handler.

The same N events (ProductUpserted, pre-produced to a 3-partition topic) go through

- the runtime: the real :class:`TransactionalConsumer` (read_committed, one Kafka transaction per
  batch, events and offsets committed together) running a handler that turns each event into one
  RenderRequested, and
- a plain kafka-python loop: a read_committed KafkaConsumer and a non-transactional KafkaProducer
  with the same ``producer_settings`` and batch size, flushing and committing offsets per batch. By
  default it decodes and encodes the same events the runtime does (``--plain-work events``);
  ``--plain-work raw`` copies the bytes through instead.

Each stage has its own consumer group and output topic. Throughput is measured from the first
record handled to the commit that made the last output visible. Prints msgs/s of both, the ratio
runtime/plain and the runtime's transaction count; ``--profile`` adds a cProfile of each stage's
consumer thread (an extra round, not counted in the figures). Expects Kafka at 127.0.0.1:9092;
creates its own topics and deletes them at the end.

    .venv/bin/python benchmarks/runtime_overhead.py --messages 20000
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from twinwear.v1 import events_pb2
from twinwear_runtime import kafka as runtime_kafka
from twinwear_runtime.events import EventRegistry, Incoming, Outgoing, derive_id, unwrap, wrap, wrap_caused_by
from twinwear_runtime.kafka import (
    ConsumerSettings,
    Record,
    RecordProcessor,
    TransactionalConsumer,
    event_record,
    producer_settings,
)
from twinwear_runtime.logs import configure_logging
from twinwear_runtime.ops_server import Health
from twinwear_runtime.topics import Topic

REGISTRY = EventRegistry([events_pb2.ProductUpserted])


@dataclass
class StageResult:
    name: str
    messages: int
    seconds: float
    cpu_seconds: float  # of the whole process (all its threads) over the same span
    batches: int = 0  # the runtime's are its committed transactions
    transactions: int = 0
    aborted: int = 0
    output_records: int = -1

    @property
    def cpu_us_per_msg(self) -> float:
        return self.cpu_seconds / self.messages * 1e6

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def plan(out_topic: str) -> Callable[[Incoming], list[Outgoing]]:
    """The no-op handler: one RenderRequested per product."""

    def handle(event: Incoming) -> list[Outgoing]:
        sku = event.payload.sku
        render_id = f"render-{sku}"
        return [Outgoing(out_topic, sku, events_pb2.RenderRequested(render_id=render_id, sku=sku), render_id)]

    return handle


# -- set-up ----------------------------------------------------------------------------------------


def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    try:
        admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        admin.close()


def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    try:
        existing = set(admin.list_topics())
        mine = [name for name in names if name in existing]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def produce_input(bootstrap: str, topic: str, run: str, messages: int) -> float:
    producer = KafkaProducer(**producer_settings(bootstrap, f"bench-{run}-seed"))
    started = time.perf_counter()
    try:
        for i in range(messages):
            sku = f"BENCH-{run}-{i:06d}"
            envelope = wrap(
                events_pb2.ProductUpserted(sku=sku, revision="r1"),
                producer="bench",
                key=sku,
                event_id=derive_id(run, str(i)),
                correlation_id=f"trace-{run}-{i}",
            )
            r = event_record(topic, envelope)
            producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return time.perf_counter() - started


def count_committed(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> int:
    """Records a read_committed reader sees on ``topic`` from its start (duplicates would show)."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        ends = reader.end_offsets(partitions)
        count, deadline, quiet_since = 0, time.monotonic() + timeout, time.monotonic()
        while time.monotonic() < deadline:
            fetched = reader.poll(timeout_ms=200)
            count += sum(len(records) for records in fetched.values())
            if fetched:
                quiet_since = time.monotonic()
            if all(reader.position(tp) >= ends[tp] for tp in partitions):
                break
            if count >= expected and time.monotonic() - quiet_since > 1.0:
                break
        return count
    finally:
        reader.close()


# -- simple timers ---------------------------------------------------------------------------------


class Timers:
    """Wall time inside the calls that make up a stage, counted from its first record on."""

    def __init__(self) -> None:
        self.started = False
        self.threads_at_start: dict[str, float] = {}
        self.threads_at_end: dict[str, float] = {}
        self.totals: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began, began_cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                if self.started:
                    self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - began
                    self.cpu[label] = self.cpu.get(label, 0.0) + time.thread_time() - began_cpu
                    self.calls[label] = self.calls.get(label, 0) + 1

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap the Kafka clients' calls and the runtime's steps (as module globals and methods)."""
        global _TIMERS  # the stages mark their first record through it
        patches: list[tuple[object, str, str]] = [
            (KafkaConsumer, "poll", "consumer.poll"),
            (KafkaConsumer, "commit", "consumer.commit"),
            (KafkaProducer, "send", "producer.send"),
            (KafkaProducer, "flush", "producer.flush"),
            (KafkaProducer, "begin_transaction", "producer.begin_transaction"),
            (KafkaProducer, "send_offsets_to_transaction", "producer.send_offsets_to_transaction"),
            (KafkaProducer, "commit_transaction", "producer.commit_transaction"),
            (RecordProcessor, "process", "RecordProcessor.process"),
            (runtime_kafka, "unwrap", "  unwrap"),
            (runtime_kafka, "wrap_caused_by", "  wrap_caused_by"),
            (runtime_kafka, "event_record", "  event_record"),
            (sys.modules[__name__], "unwrap", "  unwrap"),
            (sys.modules[__name__], "wrap_caused_by", "  wrap_caused_by"),
            (sys.modules[__name__], "event_record", "  event_record"),
        ]
        saved = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in patches]
        real_log = runtime_kafka.log
        try:
            for owner, attribute, label in patches:
                setattr(owner, attribute, self.wrap(getattr(owner, attribute), label))
            runtime_kafka.log = _TimedLog(real_log, self)
            _TIMERS = self
            yield
        finally:
            _TIMERS = None
            runtime_kafka.log = real_log
            for owner, attribute, original in saved:
                setattr(owner, attribute, original)

    def report(self, result: StageResult, batches: int) -> None:
        print(
            f"\n== timers of the {result.name} stage: {result.messages} msgs in {result.seconds:.2f} s, "
            f"{batches} batches"
        )
        print(f"   {'wall time inside':<40} {'calls':>7} {'us/msg':>8} {'ms/batch':>9} {'CPU us/msg':>11}")
        for label in sorted(self.totals, key=lambda k: _TIMER_ORDER.index(k) if k in _TIMER_ORDER else 99):
            total = self.totals[label]
            print(
                f"   {label:<40} {self.calls[label]:>7} {total / result.messages * 1e6:>8.1f} "
                f"{total / max(1, batches) * 1e3:>9.2f} {self.cpu[label] / result.messages * 1e6:>11.1f}"
            )
        nested = "RecordProcessor.process" in self.totals  # the steps are inside it, else they are the loop's own
        outer = sum(t for label, t in self.totals.items() if not (nested and label.startswith(" ")))
        rest = result.seconds - outer
        print(
            f"   {'the rest (loop, offsets, metrics...)':<40} {'':>7} {rest / result.messages * 1e6:>8.1f} "
            f"{rest / max(1, batches) * 1e3:>9.2f}"
        )
        print(f"   {'CPU of each thread of the process':<40} {'':>7} {'':>8} {'':>9} {'CPU us/msg':>11}")
        for thread, end in sorted(self.threads_at_end.items()):
            spent = end - self.threads_at_start.get(thread, 0.0)
            if spent > 0:
                print(f"   {thread[:40]:<40} {'':>7} {'':>8} {'':>9} {spent / result.messages * 1e6:>11.1f}")


_TIMER_ORDER = [
    "consumer.poll",
    "RecordProcessor.process",
    "  unwrap",
    "  wrap_caused_by",
    "  event_record",
    "  structlog info",
    "  structlog debug",
    "producer.send",
    "producer.flush",
    "consumer.commit",
    "producer.begin_transaction",
    "producer.send_offsets_to_transaction",
    "producer.commit_transaction",
]
_TIMERS: Timers | None = None


class _TimedLog:
    def __init__(self, real: Any, timers: Timers) -> None:
        self._real = real
        self._timers = timers

    def __getattr__(self, name: str) -> Any:
        return self._timers.wrap(getattr(self._real, name), f"  structlog {name}")


def _first_record() -> None:
    if _TIMERS is not None:
        _TIMERS.started = True
        _TIMERS.threads_at_start = thread_cpu()


def _last_record() -> None:
    if _TIMERS is not None:
        _TIMERS.threads_at_end = thread_cpu()


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process so far (Linux), by Python thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    spent: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError), open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
                name = names.get(int(tid), f"thread {tid}")
                spent[name] = spent.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return spent


# -- the runtime stage -----------------------------------------------------------------------------


class _TimedProcessor(RecordProcessor):
    """The runtime's processor, noting when it handles its first record and how many it handled."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.first_at: float | None = None
        self.first_cpu = 0.0
        self.handled = 0

    def process(self, record: Record, attempt: int = 1):  # type: ignore[no-untyped-def]
        if self.first_at is None:
            self.first_at, self.first_cpu = time.perf_counter(), time.process_time()
            _first_record()
        self.handled += 1
        return super().process(record, attempt)


class _CommitWatch:
    """A transaction listener: counts transactions and the records they committed, and stops the
    consumer once ``target`` records are committed (their outputs are then visible)."""

    def __init__(self, processor: _TimedProcessor, target: int, stop: Callable[[], None]) -> None:
        self._processor = processor
        self._target = target
        self._stop = stop
        self.transactions = 0
        self.discarded = 0
        self.committed_records = 0
        self.done_at: float | None = None
        self.done_cpu = 0.0
        self.done = threading.Event()

    def committed(self) -> None:
        self.transactions += 1
        # Concurrency 1 and no failures: every record handled so far is in a committed transaction.
        self.committed_records = self._processor.handled
        if self.committed_records >= self._target and self.done_at is None:
            self.done_at, self.done_cpu = time.perf_counter(), time.process_time()
            _last_record()
            self._stop()
            self.done.set()

    def discard(self) -> None:
        self.discarded += 1
        self._processor.handled = self.committed_records


def run_runtime(
    bootstrap: str,
    in_topic: str,
    out_topic: str,
    name: str,
    messages: int,
    batch: int,
    profile: cProfile.Profile | None,
) -> StageResult:
    processor = _TimedProcessor(name, REGISTRY, {events_pb2.ProductUpserted: plan(out_topic)}, 5)
    holder: list[TransactionalConsumer] = []
    watch = _CommitWatch(processor, messages, lambda: holder[0].stop())
    consumer = TransactionalConsumer(
        name,
        bootstrap,
        [Topic(in_topic)],
        processor,
        Health(),
        ConsumerSettings(instance_id="bench", batch_size=batch),
        [watch],
    )
    holder.append(consumer)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            if profile is not None:
                profile.runcall(consumer.run)
            else:
                consumer.run()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
            watch.done.set()

    worker = threading.Thread(target=work, name="bench-runtime")
    worker.start()
    finished = watch.done.wait(timeout=max(120.0, messages / 50))
    consumer.stop()
    worker.join(timeout=60)
    if errors:
        raise RuntimeError(f"runtime stage failed: {errors[0]!r}") from errors[0]
    if not finished or watch.done_at is None or processor.first_at is None:
        raise RuntimeError(f"runtime stage timed out after {watch.committed_records}/{messages} records")
    return StageResult(
        "runtime",
        messages,
        watch.done_at - processor.first_at,
        watch.done_cpu - processor.first_cpu,
        batches=watch.transactions,
        transactions=watch.transactions,
        aborted=watch.discarded,
    )


# -- the plain stage -------------------------------------------------------------------------------


def run_plain(
    bootstrap: str,
    in_topic: str,
    out_topic: str,
    name: str,
    messages: int,
    batch: int,
    work: str,
    profile: cProfile.Profile | None,
) -> StageResult:
    consumer = KafkaConsumer(
        in_topic,
        bootstrap_servers=bootstrap,
        group_id=name,
        client_id=name,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    producer = KafkaProducer(**producer_settings(bootstrap, name))
    handle = plan(out_topic)
    first_at: float | None = None
    first_cpu = 0.0
    done = 0
    batches = 0

    def loop() -> None:
        nonlocal first_at, first_cpu, done, batches
        deadline = time.monotonic() + max(120.0, messages / 50)
        while done < messages and time.monotonic() < deadline:
            fetched = consumer.poll(timeout_ms=500)
            if not fetched:
                continue
            if first_at is None:
                first_at, first_cpu = time.perf_counter(), time.process_time()
                _first_record()
            for records in fetched.values():
                for record in records:
                    if work == "raw":
                        producer.send(out_topic, key=record.key, value=record.value, headers=record.headers)
                    else:
                        envelope, payload = unwrap(record.value, REGISTRY)
                        incoming = Incoming(envelope, payload, record.topic, record.partition, record.offset)
                        for outgoing in handle(incoming):
                            r = event_record(outgoing.topic, wrap_caused_by(incoming, outgoing, name))
                            producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
                    done += 1
            producer.flush(timeout=30)
            consumer.commit()  # the positions: everything polled has been produced
            batches += 1
        _last_record()

    try:
        if profile is not None:
            profile.runcall(loop)
        else:
            loop()
        ended_at, ended_cpu = time.perf_counter(), time.process_time()
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=10)
    if done < messages or first_at is None:
        raise RuntimeError(f"plain stage timed out after {done}/{messages} records")
    return StageResult("plain", messages, ended_at - first_at, ended_cpu - first_cpu, batches=batches)


# -- profile report --------------------------------------------------------------------------------

# (label, file fragment, function name): cumulative time inside these, per message.
_KEY_FUNCTIONS = [
    ("consumer poll", "kafka/consumer/group.py", "poll"),
    ("RecordProcessor.process (all)", "twinwear_runtime/kafka.py", "process"),
    ("  unwrap (protobuf decode)", "twinwear_runtime/events.py", "unwrap"),
    ("  handler", "benchmarks/runtime_overhead.py", "handle"),
    ("  wrap_caused_by (protobuf encode)", "twinwear_runtime/events.py", "wrap_caused_by"),
    ("    derive_id (uuid5)", "twinwear_runtime/events.py", "derive_id"),
    ("    occurred_at FromDatetime", "well_known_types.py", "FromDatetime"),
    ("  event_record (serialize)", "twinwear_runtime/kafka.py", "event_record"),
    ("  structlog info/debug", "structlog/_native.py", "meth"),
    ("  bound_contextvars", "structlog/contextvars.py", "bound_contextvars"),
    ("  prometheus labels()", "prometheus_client/metrics.py", "labels"),
    ("  prometheus inc()", "prometheus_client/metrics.py", "inc"),
    ("  prometheus Histogram timer", "prometheus_client/context_managers.py", "__exit__"),
    ("producer.send", "kafka/producer/kafka.py", "send"),
    ("producer.flush", "kafka/producer/kafka.py", "flush"),
    ("consumer.commit (plain)", "kafka/consumer/group.py", "commit"),
    ("begin_transaction", "kafka/producer/kafka.py", "begin_transaction"),
    ("send_offsets_to_transaction", "kafka/producer/kafka.py", "send_offsets_to_transaction"),
    ("commit_transaction", "kafka/producer/kafka.py", "commit_transaction"),
    ("group_metadata", "kafka/consumer/group.py", "group_metadata"),
    ("_attempts_before (committed lookup)", "twinwear_runtime/kafka.py", "_attempts_before"),
    ("KafkaConsumer.committed", "kafka/consumer/group.py", "committed"),
    ("_rewind (seek)", "twinwear_runtime/kafka.py", "_rewind"),
    ("Health.beat", "twinwear_runtime/ops_server.py", "beat"),
    ("_refresh_lag", "twinwear_runtime/kafka.py", "_refresh_lag"),
]


def report_profile(name: str, profile: cProfile.Profile, messages: int, seconds: float, top: int) -> None:
    stats = pstats.Stats(profile)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())  # own time of everything profiled in this thread
    print(f"\n== profile of the {name} stage's thread: {messages} msgs, {seconds:.2f} s wall under cProfile")
    print(f"   own time of all profiled calls {total:.2f} s = {total / messages * 1e6:.0f} us/msg")
    print(f"   {'cumulative time in':<40} {'calls':>9} {'us/msg':>9}")
    for label, fragment, function in _KEY_FUNCTIONS:
        calls, cumulative = 0, 0.0
        for (filename, _line, func), (_cc, nc, _tt, ct, _callers) in raw.items():
            if func == function and filename.replace(os.sep, "/").endswith(fragment):
                calls += nc
                cumulative += ct
        if calls:
            print(f"   {label:<40} {calls:>9} {cumulative / messages * 1e6:>9.1f}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    print(f"   top {top} by own time:")
    for line in lines[start:]:
        if line.strip():
            print("   " + line.replace(os.getcwd() + os.sep, ""))


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1, help="measure both stages this many times (order alternates)")
    parser.add_argument("--plain-work", choices=("events", "raw"), default="events")
    parser.add_argument("--log-level", default="info", help="the runtime's structlog level (logs go to /dev/null)")
    parser.add_argument("--timers", action="store_true", help="then run each stage once more with timers on its calls")
    parser.add_argument("--profile", action="store_true", help="then profile each stage once more under cProfile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--profile-out", help="also write <dir>/runtime.prof and <dir>/plain.prof (pstats files)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args()

    with open(os.devnull, "w") as sink:  # JSON logs rendered as in a service, written nowhere
        configure_logging("bench", args.log_level, stream=sink)
        run = uuid.uuid4().hex[:8]
        in_topic = f"bench.{run}.in"
        modes = ["measure"] * args.rounds + ["timers"] * args.timers + ["profile"] * args.profile
        out_topics = {
            (stage, i): f"bench.{run}.out.{stage}.{i}" for stage in ("runtime", "plain") for i in range(len(modes))
        }
        create_topics(args.bootstrap, [in_topic, *out_topics.values()], partitions=3)
        try:
            seconds = produce_input(args.bootstrap, in_topic, run, args.messages)
            print(
                f"run {run}: {args.messages} events pre-produced to {in_topic} (3 partitions) in {seconds:.1f} s; "
                f"batch size {args.batch_size}, plain work {args.plain_work!r}, log level {args.log_level}"
            )
            results: dict[str, list[StageResult]] = {"runtime": [], "plain": []}
            for i, mode in enumerate(modes):
                order = ("runtime", "plain") if i % 2 == 0 else ("plain", "runtime")
                for stage in order:
                    profile = cProfile.Profile() if mode == "profile" else None
                    timers = Timers() if mode == "timers" else None
                    out_topic = out_topics[(stage, i)]
                    with timers.installed() if timers else contextlib.nullcontext():
                        if stage == "runtime":
                            result = run_runtime(
                                args.bootstrap, in_topic, out_topic, f"bench-{run}-rt{i}", args.messages,
                                args.batch_size, profile,
                            )  # fmt: skip
                        else:
                            result = run_plain(
                                args.bootstrap, in_topic, out_topic, f"bench-{run}-plain{i}", args.messages,
                                args.batch_size, args.plain_work, profile,
                            )  # fmt: skip
                    result.output_records = count_committed(args.bootstrap, out_topic, args.messages)
                    if timers is not None:
                        timers.report(result, result.batches)
                        continue
                    if profile is not None:
                        report_profile(stage, profile, args.messages, result.seconds, args.top)
                        if args.profile_out:
                            os.makedirs(args.profile_out, exist_ok=True)
                            profile.dump_stats(os.path.join(args.profile_out, f"{stage}.prof"))
                        continue
                    results[stage].append(result)
                    extra = (
                        f", {result.transactions} transactions committed, {result.aborted} state discards"
                        if stage == "runtime"
                        else ""
                    )
                    print(
                        f"round {i + 1} {stage:>7}: {result.messages} msgs in {result.seconds:.2f} s = "
                        f"{result.rate:,.0f} msgs/s, process CPU {result.cpu_us_per_msg:.0f} us/msg; "
                        f"output topic holds {result.output_records} records{extra}"
                    )
                if mode == "measure":
                    runtime, plain = results["runtime"][-1], results["plain"][-1]
                    print(f"round {i + 1}   ratio runtime/plain = {runtime.rate / plain.rate:.2f}")
            if results["runtime"]:
                runtime_rate = statistics.median(r.rate for r in results["runtime"])
                plain_rate = statistics.median(r.rate for r in results["plain"])
                ratios = [r.rate / p.rate for r, p in zip(results["runtime"], results["plain"], strict=True)]
                ratio = statistics.median(ratios)
                transactions = statistics.median(r.transactions for r in results["runtime"])
                cpu = {stage: statistics.median(r.cpu_us_per_msg for r in rs) for stage, rs in results.items()}
                print(
                    f"\nmedian over {len(ratios)} round(s): runtime {runtime_rate:,.0f} msgs/s "
                    f"({transactions:.0f} transactions, {cpu['runtime']:.0f} us CPU/msg), "
                    f"plain {plain_rate:,.0f} msgs/s ({cpu['plain']:.0f} us CPU/msg); "
                    f"ratio runtime/plain {ratio:.3f} (median of the rounds' ratios; goal >= 0.5: "
                    f"{'met' if ratio >= 0.5 else 'NOT met'})"
                )
        finally:
            with contextlib.suppress(Exception):
                delete_topics(args.bootstrap, [in_topic, *out_topics.values()])
                print(f"deleted topics bench.{run}.*")


if __name__ == "__main__":
    main()
