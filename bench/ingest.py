"""Ingestion benchmark: events per second through /v1/batch, latency of /v1/track.

Run with `make bench`, or `.venv/bin/python -m bench.ingest --help` for the
knobs. One run, on a machine with PostgreSQL and Redis on loopback:

1. recreates and migrates its own database (regal_bench), makes a source;
2. starts N daphne processes serving Regal, all accepting on one listening
   socket the bench binds and hands down with `daphne --fd`;
3. warm-up: identifies `--users` people (phone, e-mail, SMS consent), then
   sends a few batches of their track calls so every process is warm;
4. steady state: `--events` track calls of those known people, `--batch-size`
   per /v1/batch request, from `--clients` concurrent connections;
5. cold: `--cold-events` track calls, each from a new anonymousId;
6. floor: the steady-state rows again, written by psycopg COPY straight into
   the events table;
7. latency: one-event /v1/track requests at a fixed rate, open loop (sent on
   schedule whatever the answers), against Regal and then against a bare ASGI
   app (bench/bare_asgi.py) served by the same daphne, same processes;
8. writes the figures into the "Ingestion" section of docs/benchmarks.md.

Every phase is bounded by a count and a time limit. The q cluster is not
started: the evaluation tasks the batches queue are counted, then deleted
from Redis. Every process the bench starts is stopped at the end, on error
too.
"""

import argparse
import asyncio
import base64
import json
import logging
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "regal_bench"
SERVER_URL = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"
INSTANCE = "regal-bench"
BENCH_ENV = {
    "DATABASE_URL": f"{SERVER_URL}/{DATABASE_NAME}",
    "REDIS_URL": REDIS_URL,
    "REGAL_INSTANCE": INSTANCE,
    "DJANGO_SETTINGS_MODULE": "regal.settings",
    "PYTHONUNBUFFERED": "1",
}
# Set before Django is imported, so this process and its children agree.
os.environ.update(BENCH_ENV)

import aiohttp  # noqa: E402
import django  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench import common  # noqa: E402
from contacts.choices import IdentifierKind  # noqa: E402
from contacts.models import ProfileIdentifier  # noqa: E402
from events.models import Event  # noqa: E402
from events.services import create_source  # noqa: E402
from regal.processes import start_process, stop_processes  # noqa: E402

logger = logging.getLogger("bench.ingest")

DOC_PATH = BASE_DIR / "docs" / "benchmarks.md"
SECTION_TITLE = "## Ingestion"
LOG_DIR = BASE_DIR / "var" / "bench"
STARTUP_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 60
# An identify with a new phone costs tens of queries (contact, consent, the
# events Regal records about them): small batches keep each request short.
IDENTIFY_BATCH_SIZE = 20
SETUP_TIMEOUT_SECONDS = 300
# PostgreSQL's backends report their counters at most once a second.
STATS_DELAY_SECONDS = 1.2
# Issue "2/5 Ingestion and identity": on a 2-core machine, PostgreSQL on it.
TARGET_EVENTS_PER_SECOND = 5000
EVENT_NAMES = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Application Started",
    "Application Step Completed",
    "Quote Requested",
    "Page Scrolled",
    "Video Played",
]
LIBRARY = {"name": "analytics-python", "version": "2.3.3"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="Measure Regal's ingestion API; write docs/benchmarks.md.",
    )
    add = parser.add_argument
    add("--processes", type=int, default=3, help="daphne processes (default 3)")
    add("--clients", type=int, default=16, help="concurrent connections")
    add("--batch-size", type=int, default=100, help="events per /v1/batch")
    add("--users", type=int, default=2000, help="people identified first")
    add("--events", type=int, default=60_000, help="steady-state track events")
    add("--cold-events", type=int, default=10_000, help="events of new ids")
    add("--rate", type=float, default=50.0, help="/v1/track requests per second")
    add("--duration", type=float, default=20.0, help="seconds of /v1/track")
    add("--phase-limit", type=float, default=180.0, help="seconds per phase, max")
    add(
        "--shared-socket",
        action="store_true",
        help="all processes accept on one socket (default: one SO_REUSEPORT "
        "socket each, on one port)",
    )
    add("--seed", type=int, default=2026, help="seed of the generated events")
    add("--no-write", action="store_true", help="print only; leave the doc alone")
    return parser.parse_args()


# The machine and the processes ----------------------------------------------


def machine_facts() -> dict:
    return common.machine_facts(
        server_url=SERVER_URL,
        redis_url=REDIS_URL,
        packages=[
            "django", "djangorestframework", "daphne", "twisted", "psycopg",
            "aiohttp (client)",
        ],
    )  # fmt: skip


def recreate_database() -> None:
    common.recreate_database(
        server_url=SERVER_URL,
        name=DATABASE_NAME,
        env=BENCH_ENV,
        timeout=SETUP_TIMEOUT_SECONDS,
    )


def redis_client():
    import redis

    return redis.from_url(REDIS_URL)


def redis_keys() -> list[bytes]:
    client = redis_client()
    return [
        key
        for pattern in (f"django_q:{INSTANCE}:*", f"{INSTANCE}:*")
        for key in client.scan_iter(pattern)
    ]


def flush_redis() -> None:
    keys = redis_keys()
    if keys:
        redis_client().delete(*keys)


def queued_tasks() -> int:
    client = redis_client()
    return sum(
        client.llen(key)
        for key in redis_keys()
        if client.type(key) == b"list" and key.endswith(b":q")
    )


def listening_sockets(processes: int, *, reuse_port: bool) -> list[socket.socket]:
    """The listening socket(s) for the daphne processes, bound on one port.

    Shared: one socket every process accepts on. Reuse-port: one socket per
    process, all on the same port with SO_REUSEPORT, so that the kernel, not
    the race to accept(), spreads the connections.
    """
    count = processes if reuse_port else 1
    sockets: list[socket.socket] = []
    port = 0
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        sock.set_inheritable(True)
        port = sock.getsockname()[1]
        sockets.append(sock)
    return sockets


@dataclass
class Servers:
    url: str
    children: list
    logs: list[Path]

    def requests_per_process(self) -> list[int]:
        """How many requests each process answered, from its access log."""
        return [
            sum(1 for line in path.read_text(errors="replace").splitlines()
                if '"POST ' in line)
            for path in self.logs
        ]  # fmt: skip


@contextmanager
def running_servers(app: str, *, processes: int, reuse_port: bool, label: str):
    """Serve `app` with daphne processes on one port; stop them all after."""
    sockets = listening_sockets(processes, reuse_port=reuse_port)
    port = sockets[0].getsockname()[1]
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for stale in LOG_DIR.glob(f"{label}-*.log"):
        stale.unlink()
    children, logs = [], []
    try:
        for index in range(processes):
            fd = sockets[index % len(sockets)].fileno()
            log = LOG_DIR / f"{label}-{index}.log"
            logs.append(log)
            with log.open("w") as out:
                children.append(
                    start_process(
                        [sys.executable, "-m", "daphne", "--fd", str(fd), app],
                        pass_fds=(fd,),
                        env={**os.environ, **BENCH_ENV},
                        cwd=BASE_DIR,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, children, logs)
        yield Servers(url, children, logs)
    finally:
        stop_processes(children)
        for sock in sockets:
            sock.close()


def wait_until_serving(url: str, children: list, logs: list[Path]) -> None:
    """Probe on new connections until every process has answered one request.

    Django's logging configuration silences daphne's "Listening" line, so the
    proof that a process serves is a line in its own access log.
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for child, log in zip(children, logs, strict=True):
            if child.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{log.read_text()[-3000:]}")
        if all('"GET ' in log.read_text(errors="replace") for log in logs):
            return
        try:
            with urllib.request.urlopen(f"{url}/v1/ready-probe", timeout=5):
                pass
        except urllib.error.HTTPError:
            pass  # any answer is an answer
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"daphne did not serve within {STARTUP_TIMEOUT_SECONDS}s")


# CPU accounting: where the machine's time went during a phase -----------------


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def process_stats() -> list[tuple[int, str, int, int, int]]:
    """(pid, name, ppid, own cpu ticks, waited-for children's ticks) of each process."""
    stats = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        own = int(fields[11]) + int(fields[12])
        children = int(fields[13]) + int(fields[14])
        stats.append((int(entry.name), name, int(fields[1]), own, children))
    return stats


def cpu_snapshot(server_pids: list[int]) -> dict[str, float]:
    """Seconds of CPU used so far by the web servers, PostgreSQL, Redis, the bench.

    PostgreSQL's total is its live processes plus what its exited backends
    used (the postmaster's waited-for children), so connections that come
    and go are counted too.
    """
    ticks = clock_ticks()
    stats = process_stats()
    postgres_pids = {pid for pid, name, *_ in stats if name == "postgres"}
    postgres = 0
    for _pid, name, ppid, own, children in stats:
        if name != "postgres":
            continue
        postgres += own
        if ppid not in postgres_pids:
            postgres += children
    by_pid = {pid: own for pid, _, _, own, _ in stats}
    usage = os.times()
    with open("/proc/stat") as handle:
        total = [int(value) for value in handle.readline().split()[1:]]
    idle = total[3] + total[4]
    return {
        "web": sum(by_pid.get(pid, 0) for pid in server_pids) / ticks,
        "postgresql": postgres / ticks,
        "redis": sum(own for _, name, _, own, _ in stats if name == "redis-server")
        / ticks,
        "bench client": usage.user + usage.system,
        "machine busy": (sum(total) - idle) / ticks,
    }


def cpu_used(before: dict, after: dict, elapsed: float) -> dict[str, float]:
    """Cores used on average by each part, over `elapsed` seconds."""
    used = {
        key: (after[key] - before[key]) / elapsed
        for key in ("web", "postgresql", "redis", "bench client")
    }
    busy = (after["machine busy"] - before["machine busy"]) / elapsed
    used["other"] = max(0.0, busy - sum(used.values()))
    return used


def database_stats() -> dict[str, int]:
    with psycopg.connect(f"{SERVER_URL}/postgres") as conn:
        row = conn.execute(
            "SELECT xact_commit, sessions, tup_inserted FROM pg_stat_database "
            "WHERE datname = %s",
            [DATABASE_NAME],
        ).fetchone()
    return {"commits": row[0], "sessions": row[1], "rows inserted": row[2]}


# The events ---------------------------------------------------------------


@dataclass
class Workload:
    write_key: str
    users: list[str]
    rng: Random
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def iso(self, seconds_ago: float) -> str:
        return (self.now - timedelta(seconds=seconds_ago)).isoformat(
            timespec="milliseconds"
        )

    def identify(self, index: int) -> dict:
        user_id = self.users[index]
        phone = f"+1415555{index:04d}"
        return {
            "type": "identify",
            "userId": user_id,
            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "timestamp": self.iso(600),
            "traits": {
                "firstName": f"Ada{index}",
                "lastName": "Bench",
                "email": f"{user_id}@example.com",
                "phones": {
                    phone: {"isPrimary": True, "smsOptIn": {"subscribed": True}}
                },
                "plan": self.rng.choice(["free", "pro", "team"]),
            },
            "context": {"library": LIBRARY},
        }

    def track(self, *, user_id: str | None = None, anonymous_id: str | None = None):
        name = self.rng.choice(EVENT_NAMES)
        call = {
            "type": "track",
            "event": name,
            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "originalTimestamp": self.iso(self.rng.uniform(0.1, 5)),
            "properties": {
                "product_id": f"sku-{self.rng.randrange(10_000):05d}",
                "price": round(self.rng.uniform(5, 500), 2),
                "currency": "USD",
                "category": self.rng.choice(["shoes", "loans", "insurance", "books"]),
                "step": self.rng.randrange(1, 6),
            },
            "context": {
                "library": LIBRARY,
                "ip": f"10.0.{self.rng.randrange(256)}.{self.rng.randrange(256)}",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Bench/1.0",
            },
        }
        if user_id:
            call["userId"] = user_id
        if anonymous_id:
            call["anonymousId"] = anonymous_id
        return call

    def known_track(self) -> dict:
        return self.track(user_id=self.rng.choice(self.users))

    def cold_track(self) -> dict:
        return self.track(
            anonymous_id=f"anon-{uuid.UUID(int=self.rng.getrandbits(128))}"
        )

    def batch_body(self, calls: list[dict]) -> bytes:
        return json.dumps({"batch": calls, "sentAt": self.iso(0)}).encode()


def chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


# The clients ----------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    requests: int = 0
    events: int = 0
    failures: list = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: dict = field(default_factory=dict)
    database: dict = field(default_factory=dict)
    per_process: list[int] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.elapsed if self.elapsed else 0.0

    def cpu_ms_per_request(self, part: str) -> float:
        """Milliseconds of CPU that `part` spent per request of the phase."""
        if not self.requests:
            return 0.0
        return 1000 * self.cpu[part] * self.elapsed / self.requests


def auth_headers(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


async def post_closed_loop(
    url: str, bodies: list[tuple[int, bytes]], *, clients: int, headers: dict,
    deadline: float, result: PhaseResult,
) -> None:  # fmt: skip
    """Send the bodies from `clients` connections, each sending as soon as answered."""
    pending = iter(bodies)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def client() -> None:
            for count, body in pending:
                if time.monotonic() > deadline:
                    return
                sent = time.monotonic()
                try:
                    async with session.post(url, data=body) as response:
                        answer = await response.read()
                except (TimeoutError, aiohttp.ClientError) as exc:
                    result.failures.append(("error", repr(exc)))
                    continue
                result.latencies.append(time.monotonic() - sent)
                result.requests += 1
                if response.status == 200:
                    result.events += count
                else:
                    result.failures.append((response.status, answer[:300]))

        await asyncio.gather(*(client() for _ in range(clients)))


async def post_open_loop(
    url: str, bodies: list[bytes], *, rate: float, headers: dict, result: PhaseResult
) -> None:
    """Send one body every 1/rate seconds whatever the answers; time from schedule.

    Latency is measured from when a request was due, not from when it left, so
    a stalled client or server is not hidden (no coordinated omission).
    """
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=0)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def send(due: float, body: bytes) -> None:
            try:
                async with session.post(url, data=body) as response:
                    answer = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                result.failures.append(("error", repr(exc)))
                return
            result.latencies.append(loop.time() - due)
            result.requests += 1
            if response.status == 200:
                result.events += 1
            else:
                result.failures.append((response.status, answer[:300]))

        start = loop.time() + 0.2
        tasks = []
        for index, body in enumerate(bodies):
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            tasks.append(asyncio.create_task(send(due, body)))
        await asyncio.gather(*tasks)


def measure(name: str, servers: Servers | None, run) -> PhaseResult:
    """Run one phase, with the CPU each part used and the database's counters."""
    result = PhaseResult(name)
    pids = [child.pid for child in servers.children] if servers else []
    before_requests = servers.requests_per_process() if servers else []
    before_db = database_stats()
    before_cpu = cpu_snapshot(pids)
    started = time.monotonic()
    run(result)
    result.elapsed = time.monotonic() - started
    result.cpu = cpu_used(before_cpu, cpu_snapshot(pids), result.elapsed)
    time.sleep(STATS_DELAY_SECONDS)
    after_db = database_stats()
    result.database = {key: after_db[key] - before_db[key] for key in after_db}
    if servers:
        time.sleep(0.3)  # the access log line is written after the answer
        result.per_process = [
            after - before
            for before, after in zip(
                before_requests, servers.requests_per_process(), strict=True
            )
        ]
    logger.info("%s", describe(result))
    if result.failures:
        logger.warning("%s: %d failures, first: %s", name, len(result.failures),
                       result.failures[:3])  # fmt: skip
    return result


def describe(result: PhaseResult) -> str:
    text = (
        f"{result.name}: {result.events} events in {result.requests} requests, "
        f"{result.elapsed:.1f} s, {result.events_per_second:,.0f} events/s"
    )
    if result.latencies:
        text += f", p50 {percentile(result.latencies, 50) * 1000:.1f} ms"
        text += f", p99 {percentile(result.latencies, 99) * 1000:.1f} ms"
    cpu = ", ".join(f"{key} {value:.2f}" for key, value in result.cpu.items())
    per_request = ", ".join(
        f"{part} {result.cpu_ms_per_request(part):.1f}"
        for part in ("web", "postgresql", "bench client")
    )
    return (
        f"{text}\n    cores used: {cpu}\n    CPU ms per request: {per_request}"
        f"\n    database: {result.database}"
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def closed_loop(servers: Servers, bodies, args, headers):
    def run(result: PhaseResult) -> None:
        deadline = time.monotonic() + args.phase_limit
        asyncio.run(
            post_closed_loop(
                f"{servers.url}/v1/batch",
                bodies,
                clients=args.clients,
                headers=headers,
                deadline=deadline,
                result=result,
            )
        )

    return run


def open_loop(url: str, bodies: list[bytes], args, headers):
    def run(result: PhaseResult) -> None:
        asyncio.run(
            post_open_loop(url, bodies, rate=args.rate, headers=headers, result=result)
        )

    return run


# The floor: the same rows by COPY ----------------------------------------------


def copy_rows(workload: Workload, calls: list[dict], source_id: int) -> list[tuple]:
    """The rows the API stored for these calls, with new messageIds."""
    people = dict(
        (value, (profile_id, contact_id))
        for value, profile_id, contact_id in ProfileIdentifier.objects.filter(
            kind=IdentifierKind.USER_ID, value__in=workload.users
        ).values_list("value", "profile_id", "profile__contact_id")
    )
    now = datetime.now(UTC)
    rows = []
    for call in calls:
        profile_id, contact_id = people[call["userId"]]
        when = datetime.fromisoformat(call["originalTimestamp"])
        rows.append(
            (source_id, f"copy-{call['messageId']}", "track", call["event"],
             call["userId"], "", "", "", profile_id, contact_id,
             call["properties"], {}, call["context"], when, when, now, now, now)
        )  # fmt: skip
    return rows


COPY_COLUMNS = [
    "source_id", "message_id", "type", "name", "user_id", "anonymous_id",
    "previous_id", "group_id", "profile_id", "contact_id", "properties", "traits",
    "context", "timestamp", "original_timestamp", "sent_at", "received_at",
    "created_at",
]  # fmt: skip


def copy_floor(rows: list[tuple], *, batch_size: int, per_batch: bool):
    """COPY the rows into the events table: one COPY and commit per batch, or one."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(Event._meta.db_table),
        sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS)),
    )
    prefix = "b" if per_batch else "a"
    # JSON is serialized inside the timed part: the server pays for it too.
    prepared = [
        (*row[:1], f"{prefix}{row[1]}", *row[2:10], Jsonb(row[10]), Jsonb(row[11]),
         Jsonb(row[12]), *row[13:])
        for row in rows
    ]  # fmt: skip

    def run(result: PhaseResult) -> None:
        with psycopg.connect(BENCH_ENV["DATABASE_URL"]) as conn:
            groups = chunks(prepared, batch_size) if per_batch else [prepared]
            for group in groups:
                with conn.cursor().copy(statement) as copy:
                    for row in group:
                        copy.write_row(row)
                conn.commit()
                result.requests += 1
                result.events += len(group)

    return run


# The report -----------------------------------------------------------------


def render(args, facts: dict, phases: dict[str, PhaseResult], extra: dict) -> str:
    steady, cold = phases["steady"], phases["cold"]
    verdict = (
        "meets" if steady.events_per_second >= TARGET_EVENTS_PER_SECOND else
        "does **not** meet"
    )  # fmt: skip
    web_ms = steady.cpu_ms_per_request("web")
    database_ms = steady.cpu_ms_per_request("postgresql")
    limit = "the web processes" if web_ms >= database_ms else "PostgreSQL"
    lines = [
        SECTION_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/ingest.py`; "
        "the script rewrites this section on every run.",
        "",
        "```",
        extra["command"],
        "```",
        "",
        f"**{steady.events_per_second:,.0f} events/s** through `/v1/batch` for "
        f"track calls of people Regal already knows ({args.batch_size} per "
        f"request, {args.clients} concurrent clients, {args.processes} daphne "
        f"processes), which {verdict} the target of "
        f"{TARGET_EVENTS_PER_SECOND:,} events/s on this {facts['cores']}-core "
        "machine with PostgreSQL on it. "
        f"A cold batch, every event from a new anonymousId, runs at "
        f"**{cold.events_per_second:,.0f} events/s**: each such event takes the "
        "slow path, which resolves (here: creates) a profile and stores the "
        "event in a transaction of its own.",
        "",
        f"Per {args.batch_size}-event request the web processes spent "
        f"{web_ms:.1f} ms of CPU and PostgreSQL {database_ms:.1f} ms: "
        f"{limit} are the limit. Load from outside the bench was "
        f"{extra['load_before']} (1-minute load average) before the run and "
        f"{extra['load_after']} after; the *other* column below is the CPU that "
        "processes other than the bench's own used meanwhile.",
        "",
        "### Throughput",
        "",
        "| phase | events | requests | seconds | events/s | request p50 / p99 |"
        " cores: web / PostgreSQL / client / other |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for key in ("identify", "steady", "cold", "copy_batches", "copy_one"):
        phase = phases[key]
        latency = (
            f"{percentile(phase.latencies, 50) * 1000:.0f} / "
            f"{percentile(phase.latencies, 99) * 1000:.0f} ms"
            if phase.latencies
            else "–"
        )
        cpu = phase.cpu
        lines.append(
            f"| {phase.name} | {phase.events:,} | {phase.requests:,} | "
            f"{phase.elapsed:.1f} | {phase.events_per_second:,.0f} | {latency} | "
            f"{cpu['web']:.2f} / {cpu['postgresql']:.2f} / "
            f"{cpu['bench client']:.2f} / {cpu['other']:.2f} |"
        )
    lines += [
        "",
        "Cores are CPU seconds per wall-clock second over the phase (2.00 = two "
        "cores busy); PostgreSQL's include its exited backends. The bench "
        "client (aiohttp, one process) shares the cores with the server and "
        "the database.",
        "",
        f"- Requests per daphne process in the steady phase: "
        f"{', '.join(f'{count:,}' for count in steady.per_process)}.",
        f"- PostgreSQL in the steady phase: {steady.database['commits']:,} "
        f"transactions, {steady.database['sessions']:,} new sessions.",
        f"- Events of the bench's source counted in the database afterwards: "
        f"{extra['stored']:,} (expected {extra['expected']:,}), and "
        f"{extra['system']:,} that Regal recorded itself (contact created, "
        "consent given) for the identify calls. Evaluation tasks "
        f"queued in Redis for the q cluster (not running): {extra['queued']:,}, "
        "deleted at the end.",
        f"- Failed requests: {sum(len(p.failures) for p in phases.values())}.",
        "",
        "### Latency of one event",
        "",
        f"`/v1/track`, one known person's track call per request, "
        f"{args.rate:g} requests/s for {args.duration:g} s, open loop: each "
        "request leaves on schedule whatever the earlier answers, and its "
        "latency counts from when it was due.",
        "",
        "| server | requests | failed | p50 | p90 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ("latency_regal", "latency_bare"):
        phase = phases[key]
        values = [f"{percentile(phase.latencies, pct) * 1000:.1f} ms"
                  for pct in (50, 90, 99, 100)]  # fmt: skip
        lines.append(
            f"| {phase.name} | {phase.requests:,} | {len(phase.failures)} | "
            + " | ".join(values)
            + " |"
        )
    sockets = (
        "all accepting on one listening socket bound by the bench"
        if args.shared_socket
        else "each accepting on its own SO_REUSEPORT socket, all bound by the "
        "bench on one port"
    )
    lines += [
        "",
        "### Configuration",
        "",
        f"- Web: {args.processes} daphne processes (`python -m daphne --fd N "
        f"regal.asgi:application`, default verbosity, so with the access log), "
        f"{sockets} and handed down with `--fd`. Each process takes its "
        "PostgreSQL connections from a pool of at most "
        f"{os.environ.get('REGAL_DB_POOL_SIZE', '4')} (REGAL_DB_POOL_SIZE); "
        f"LOG_LEVEL={os.environ.get('LOG_LEVEL', 'INFO')}.",
        f"- Clients: {args.clients} concurrent keep-alive connections (asyncio + "
        f"aiohttp), {args.batch_size} events per `/v1/batch` request.",
        f"- Warm-up: {args.users:,} identify calls (phone, e-mail, SMS consent), "
        f"{IDENTIFY_BATCH_SIZE} per request, then a few batches of their track "
        "calls, not counted.",
        f"- Steady state: {args.events:,} track calls of those people, userId "
        "only, five properties, a library/ip/userAgent context, unique "
        f"messageIds. Cold: {args.cold_events:,} track calls, each from its own "
        "new anonymousId.",
        "- Floor: the steady-state rows (new messageIds) written into the "
        "events table by psycopg COPY on one connection, as one COPY and commit "
        f"per {args.batch_size} rows, and as a single COPY of all of them.",
        f"- Database `{DATABASE_NAME}` dropped, created and migrated at the start "
        f"of the run; Redis as the task broker (REGAL_INSTANCE={INSTANCE}), "
        "no q cluster running.",
        "- With one shared socket, a process that wins the race to accept() "
        "takes a burst of connections at once, and keep-alive clients stay "
        "where they landed: runs while this bench was written put 314 of 317 "
        "requests on one of three processes. `--shared-socket` measures that "
        "way; by default the kernel spreads connections over one socket per "
        "process.",
        "",
        "### Machine",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    common.write_section(SECTION_TITLE, text)


# The run --------------------------------------------------------------------


def run_bench(args) -> None:
    load_before = os.getloadavg()[0]
    facts = machine_facts()
    logger.info("recreating database %s", DATABASE_NAME)
    recreate_database()
    flush_redis()
    source = create_source("bench")
    users = [f"user-{index:05d}" for index in range(args.users)]
    workload = Workload(source.write_key, users, Random(args.seed))
    headers = auth_headers(source.write_key)
    size = args.batch_size

    identify_calls = [workload.identify(index) for index in range(args.users)]
    warm_calls = [workload.known_track() for _ in range(size * 4 * args.processes)]
    steady_calls = [workload.known_track() for _ in range(args.events)]
    cold_calls = [workload.cold_track() for _ in range(args.cold_events)]

    def bodies(calls, per_request=size):
        return [
            (len(group), workload.batch_body(group))
            for group in chunks(calls, per_request)
        ]

    identify_bodies = bodies(identify_calls, IDENTIFY_BATCH_SIZE)
    warm_bodies = bodies(warm_calls)
    steady_bodies, cold_bodies = bodies(steady_calls), bodies(cold_calls)
    track_count = int(args.rate * args.duration)
    track_bodies = [
        json.dumps(workload.known_track()).encode() for _ in range(2 * track_count)
    ]
    phases: dict[str, PhaseResult] = {}

    app = "regal.asgi:application"
    with running_servers(
        app, processes=args.processes, reuse_port=not args.shared_socket, label="regal"
    ) as servers:
        logger.info("serving Regal with %d processes at %s", args.processes,
                    servers.url)  # fmt: skip
        phases["identify"] = measure(
            "warm-up: identify, new people",
            servers,
            closed_loop(servers, identify_bodies, args, headers),
        )
        if phases["identify"].events < args.users:
            raise RuntimeError(
                f"the warm-up identified {phases['identify'].events} of "
                f"{args.users} people; the steady phase would measure new ones "
                "(raise --phase-limit, or fewer --users)"
            )
        phases["warm"] = measure(
            "warm-up: track", servers, closed_loop(servers, warm_bodies, args, headers)
        )
        phases["steady"] = measure(
            "track, known people",
            servers,
            closed_loop(servers, steady_bodies, args, headers),
        )
        phases["cold"] = measure(
            "track, new anonymousIds (cold)",
            servers,
            closed_loop(servers, cold_bodies, args, headers),
        )
        phases["latency_regal"] = measure(
            "Regal (Django, DRF, ingest_events)",
            servers,
            open_loop(f"{servers.url}/v1/track", track_bodies[:track_count], args,
                      headers),
        )  # fmt: skip

    rows = copy_rows(workload, steady_calls, source.pk)
    phases["copy_batches"] = measure(
        f"floor: COPY, {size} rows per commit",
        None,
        copy_floor(rows, batch_size=size, per_batch=True),
    )
    phases["copy_one"] = measure(
        "floor: COPY, one for all rows", None,
        copy_floor(rows, batch_size=size, per_batch=False),
    )  # fmt: skip

    app = "bench.bare_asgi:application"
    with running_servers(
        app, processes=args.processes, reuse_port=not args.shared_socket, label="bare"
    ) as servers:
        phases["latency_bare"] = measure(
            "bare ASGI app, same daphne",
            servers,
            open_loop(f"{servers.url}/v1/track", track_bodies[track_count:], args,
                      headers),
        )  # fmt: skip

    queued = queued_tasks()
    flush_redis()
    stored = Event.objects.filter(source=source).count()
    # What Regal records itself (contact.created, consent changes) on identify.
    system = Event.objects.exclude(source=source).count()
    expected = sum(
        phases[key].events
        for key in ("identify", "warm", "steady", "cold", "latency_regal",
                    "copy_batches", "copy_one")
    )  # fmt: skip
    extra = {
        "command": command_line(),
        "stored": stored,
        "expected": expected,
        "queued": queued,
        "system": system,
        "load_before": f"{load_before:.2f}",
        "load_after": f"{os.getloadavg()[0]:.2f}",
    }
    text = render(args, facts, phases, extra)
    sys.stdout.write(text + "\n")
    if not args.no_write:
        write_section(text)
        logger.info("wrote the %s section of %s", SECTION_TITLE, DOC_PATH)


def command_line() -> str:
    """The command that ran this bench, as someone would type it again."""
    options = shlex.join(sys.argv[1:])
    if os.environ.get("BENCH_VIA_MAKE"):
        return (
            f"make bench BENCH_ARGS={shlex.quote(options)}"
            if options
            else ("make bench")
        )
    return f".venv/bin/python -m bench.ingest {options}".strip()


def main() -> None:
    common.run_main(logger, lambda: run_bench(parse_args()), cleanup)


def cleanup() -> None:
    flush_redis()
    connection.close()


if __name__ == "__main__":
    main()
