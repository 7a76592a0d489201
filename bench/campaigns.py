"""Campaign benchmarks: event-to-SMS latency, and evaluation cost per event.

Run with `make bench-campaigns` (`make bench` runs every benchmark), or see
`.venv/bin/python -m bench.campaigns --help` for the knobs. One run, on a
machine with PostgreSQL and Redis on loopback:

1. recreates and migrates its own database (regal_bench_campaigns), makes a
   source and one live campaign: trigger "Bench Started", no wait, one SMS
   step, no quiet hours (start equals end), a frequency cap no one reaches;
2. floor: `--floor-iterations` LPUSH-then-BRPOP round trips on Redis, from
   one redis-py client;
3. event to SMS, once per broker (django-q2's ORM broker on PostgreSQL, then
   its Redis broker): starts daphne and the q cluster as `manage.py serve`
   does, sending through the real twilio client to the Twilio stand-in of
   the tests (tests/twilio_standin.py), served by this process; identifies
   one new person per request (phone, SMS consent) and warms every worker up,
   untimed; then, in `--rounds` rounds, sends `--requests` one-event
   /v1/track calls at `--rate` per second, open loop, and times each from
   the moment its request leaves to the moment the stand-in receives its
   SMS. Before each round it waits, a bounded time, for the machine to be
   quiet, and it notes what other work used the machine meanwhile;
4. evaluation cost, in this process: for each count of live campaigns in
   `--campaigns`, all but one waiting for events of their own name and one
   for the measured event, times `campaigns.services.evaluate_events` over
   `--events` stored events of fresh consenting people, one call per event,
   then counts its queries over `--count-events` more;
5. writes the "Campaigns: event to SMS" and "Campaigns: evaluation cost"
   sections of docs/benchmarks.md, and leaves the others alone.

Every phase is bounded by a count and a time limit, and every process the
bench starts is stopped at the end, on error too. The tasks phase 4 queues
land in Redis, with no q cluster to run them, and are deleted.
"""

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from statistics import mean

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "regal_bench_campaigns"
SERVER_URL = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"
INSTANCE = "regal-bench-campaigns"
BENCH_ENV = {
    "DATABASE_URL": f"{SERVER_URL}/{DATABASE_NAME}",
    "REDIS_URL": REDIS_URL,
    "REGAL_INSTANCE": INSTANCE,
    "DJANGO_SETTINGS_MODULE": "regal.settings",
    "PYTHONUNBUFFERED": "1",
}
# Set before Django is imported, so this process and its children agree. The
# bench's own process logs warnings only: phase 4 would otherwise print three
# lines per event to the terminal, inside the timed loop.
os.environ.update(BENCH_ENV)
os.environ.setdefault("LOG_LEVEL", "WARNING")

import aiohttp  # noqa: E402
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_q.models import OrmQ, Schedule  # noqa: E402

from agents.choices import Direction  # noqa: E402
from agents.models import Message  # noqa: E402
from bench import common  # noqa: E402
from campaigns.choices import CampaignStatus, StepKind  # noqa: E402
from campaigns.models import (  # noqa: E402
    Campaign,
    CampaignEnrollment,
    CampaignStep,
    CampaignTicker,
)
from campaigns.queries import list_live_campaigns_triggered_by  # noqa: E402
from campaigns.schedules import TICKER_NAME  # noqa: E402
from campaigns.services import evaluate_events  # noqa: E402
from events.models import Event, Source  # noqa: E402
from events.services import create_source, ingest_events  # noqa: E402
from regal.processes import process_commands, start_process, stop_processes  # noqa: E402
from tests.twilio_standin import TwilioStandin  # noqa: E402

logger = logging.getLogger("bench.campaigns")

DOC_PATH = BASE_DIR / "docs" / "benchmarks.md"
LATENCY_TITLE = "## Campaigns: event to SMS"
COST_TITLE = "## Campaigns: evaluation cost"
LOG_DIR = BASE_DIR / "var" / "bench"
TRIGGER = "Bench Started"
SMS_BODY = "Hi {{ contact.first_name|default:'there' }}, your bench run has started"
# A cap no contact reaches: the latency phase texts each person once anyway,
# but the default (3 a day) must not be what a rerun measures.
SMS_CAP = 1_000_000
TICK_SECONDS = "0.2"
STARTUP_TIMEOUT_SECONDS = 60
SETUP_TIMEOUT_SECONDS = 300
REQUEST_TIMEOUT_SECONDS = 30
IDENTIFY_BATCH = 100
WARM_UP_REQUESTS = 12
# django-q2's guard calls the scheduler 30 s after the cluster starts, and the
# schedule starts the chain of ticks that then holds one worker.
TICKER_TIMEOUT_SECONDS = 75
# Numbers Regal accepts as valid US mobiles, apart for each use.
PHONE_BLOCKS = {"warm": 1000, "orm": 2000, "redis": 4000}
COST_PHONES_PER_COUNT = 1000
# Before each timed phase the bench waits, a bounded time, for the machine to
# be this quiet over this long.
QUIET_BUSY_PERCENT = 15.0
QUIET_SAMPLE_SECONDS = 3.0
# One area code per campaign count, so each count has people of its own.
COST_AREA_CODES = ["650", "212", "312", "617", "206", "303"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.campaigns",
        description="Measure Regal's campaign engine; write docs/benchmarks.md.",
    )
    add = parser.add_argument
    add("--requests", type=int, default=200, help="timed /v1/track per round")
    add("--rounds", type=int, default=3, help="rounds per broker")
    add("--rate", type=float, default=8.0, help="/v1/track requests per second")
    add("--brokers", default="orm,redis", help="brokers to time: orm,redis")
    add("--floor-iterations", type=int, default=2000, help="Redis round trips")
    add("--campaigns", default="1,100,1000,10000", help="live campaign counts")
    add("--events", type=int, default=500, help="events timed per count")
    add("--count-events", type=int, default=50, help="events whose queries count")
    add("--warm-events", type=int, default=50, help="untimed events per count")
    add("--phase-limit", type=float, default=120.0, help="seconds per phase, max")
    add(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="seconds to wait, at most, for an idle machine before each round",
    )
    add(
        "--only",
        choices=["latency", "cost"],
        help="run one part, and write only its section",
    )
    add("--no-write", action="store_true", help="print only; leave the doc alone")
    args = parser.parse_args()
    args.brokers = [name.strip() for name in args.brokers.split(",") if name.strip()]
    unknown = set(args.brokers) - {"orm", "redis"}
    if unknown:
        parser.error(f"unknown broker(s): {', '.join(sorted(unknown))}")
    args.campaigns = [int(count) for count in args.campaigns.split(",")]
    if min(args.campaigns) < 1 or max(args.campaigns) > 100_000:
        parser.error("campaign counts run from 1 to 100,000")
    if len(args.campaigns) > len(COST_AREA_CODES):
        parser.error(f"at most {len(COST_AREA_CODES)} campaign counts")
    if (
        args.requests * args.rounds > 1000
        or args.events + args.count_events + args.warm_events > (COST_PHONES_PER_COUNT)
    ):
        parser.error("at most 1,000 requests per broker, and 1,000 events per count")
    return args


# The machine, the database, Redis ----------------------------------------------


def machine_facts() -> dict:
    return common.machine_facts(
        server_url=SERVER_URL,
        redis_url=REDIS_URL,
        packages=["django", "django-q2", "daphne", "psycopg", "redis", "twilio"],
    )


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
        for pattern in (f"django_q:{INSTANCE}:*", f"{INSTANCE}:*", "bench:campaigns:*")
        for key in client.scan_iter(pattern)
    ]


def flush_redis() -> None:
    keys = redis_keys()
    if keys:
        redis_client().delete(*keys)


def queued_in_redis() -> int:
    return redis_client().llen(f"django_q:{INSTANCE}:q")


# Statistics -----------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile: a value that was measured, never between two."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


# CPU: where the machine's time went during a phase -------------------------------


def process_ticks() -> list[tuple[int, str, int, int, int, int]]:
    """(pid, name, ppid, process group, own CPU ticks, waited-for children's,
    start time)."""
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
        stats.append(
            (int(entry.name), name, int(fields[1]), int(fields[2]),
             int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]),
             int(fields[19]))
        )  # fmt: skip
    return stats


Q_CLUSTER_ROLES = ("q workers", "q monitor", "q pusher", "q guard")


def q_cluster_roles(leader: int) -> dict[str, int]:
    """The pids of the q cluster's monitor and pusher, once they run.

    `manage.py qcluster` starts a sentinel, which forks the workers first,
    then the monitor (it saves results), then the pusher (it pops the broker).
    Workers are replaced as they recycle; the monitor and pusher stay.
    """
    workers = settings.Q_CLUSTER["workers"]
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        stats = process_ticks()
        sentinels = {stat[0] for stat in stats if stat[2] == leader}
        forked = sorted(
            (stat for stat in stats if stat[2] in sentinels), key=lambda stat: stat[6]
        )
        if len(forked) >= workers + 2:
            return {"q monitor": forked[workers][0], "q pusher": forked[workers + 1][0]}
        time.sleep(0.2)
    raise RuntimeError("the q cluster did not start its monitor and pusher")


def q_cluster_parts(stats: list, leader: int, roles: dict[str, int]) -> dict:
    """The q cluster's CPU ticks by role: the workers (with those that have
    recycled and exited), the monitor, the pusher, and the guard (the
    sentinel, which also runs the scheduler, and the command that started it)."""
    group = [stat for stat in stats if stat[3] == leader]
    total = sum(own + children for _, _, _, _, own, children, _ in group)
    parts = {
        label: sum(stat[4] for stat in group if stat[0] == pid)
        for label, pid in roles.items()
    }
    parts["q guard"] = sum(
        stat[4] for stat in group if stat[0] == leader or stat[2] == leader
    )
    parts["q workers"] = total - sum(parts.values())
    return parts


def cpu_snapshot(
    groups: dict[str, int], roles: dict[str, int] | None = None
) -> dict[str, float]:
    """CPU seconds used so far by each named process group, PostgreSQL, Redis,
    and the machine. PostgreSQL's include its exited backends."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = process_ticks()
    snapshot = {
        label: sum(own + children for _, _, _, pgrp, own, children, _ in stats
                   if pgrp == group) / ticks
        for label, group in groups.items()
    }  # fmt: skip
    if roles:
        parts = q_cluster_parts(stats, groups["q cluster"], roles)
        for label in Q_CLUSTER_ROLES:
            snapshot[label] = parts[label] / ticks
    postgres = {stat[0]: stat for stat in stats if stat[1] == "postgres"}
    # The postmaster's waited-for children are the backends that have exited.
    snapshot["PostgreSQL"] = (
        sum(
            own + (children if ppid not in postgres else 0)
            for _, _, ppid, _, own, children, _ in postgres.values()
        )
        / ticks
    )
    snapshot["Redis"] = (
        sum(stat[4] for stat in stats if stat[1] == "redis-server") / ticks
    )
    usage = os.times()
    snapshot["bench"] = usage.user + usage.system
    with open("/proc/stat") as handle:
        total = [int(value) for value in handle.readline().split()[1:]]
    snapshot["machine busy"] = (sum(total) - total[3] - total[4]) / ticks
    snapshot["machine total"] = sum(total) / ticks
    return snapshot


def cores_used(before: dict, after: dict, elapsed: float) -> dict[str, float]:
    """Cores each part used on average over `elapsed` seconds; busy % of all."""
    used = {
        key: (after[key] - before[key]) / elapsed
        for key in before
        if not key.startswith("machine")
    }
    total = after["machine total"] - before["machine total"]
    busy = after["machine busy"] - before["machine busy"]
    used["machine busy %"] = 100 * busy / total if total else 0.0
    # What the machine did besides the parts above: other people's work.
    # The q cluster's roles are part of its total already.
    ours = sum(
        used[key]
        for key in before
        if not key.startswith("machine") and key not in Q_CLUSTER_ROLES
    )
    busy_cores = (os.cpu_count() or 1) * busy / total if total else 0.0
    used["other"] = max(0.0, busy_cores - ours)
    return used


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_busy(seconds: float) -> float:
    """Percent of all cores busy over the next `seconds`."""
    before = cpu_snapshot({})
    time.sleep(seconds)
    after = cpu_snapshot({})
    total = after["machine total"] - before["machine total"]
    busy = after["machine busy"] - before["machine busy"]
    return 100 * busy / total if total else 0.0


def wait_for_quiet(limit: float, *, what: str) -> float:
    """Wait, at most `limit` seconds, for the machine to be under QUIET_BUSY_PERCENT
    busy (other work on it skews every figure); return how busy it was last."""
    deadline = time.monotonic() + limit
    while True:
        busy = machine_busy(QUIET_SAMPLE_SECONDS)
        if busy < QUIET_BUSY_PERCENT:
            return busy
        if time.monotonic() >= deadline:
            logger.warning("%s: the machine is still %.0f%% busy; going on", what,
                           busy)  # fmt: skip
            return busy
        logger.info("%s: the machine is %.0f%% busy; waiting", what, busy)


# Phase 2: the floor, one Redis push and pop --------------------------------------


def redis_floor(iterations: int) -> list[float]:
    """Time LPUSH then BRPOP of one small value, a broker hop's least cost."""
    client = redis_client()
    key = "bench:campaigns:floor"
    client.delete(key)
    payload = b"x" * 400  # about a signed django-q2 task of one id
    for _ in range(50):
        client.lpush(key, payload)
        client.brpop([key], timeout=1)
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        client.lpush(key, payload)
        client.brpop([key], timeout=1)
        timings.append(time.perf_counter() - started)
    client.delete(key)
    return timings


# Phase 3: event to SMS ------------------------------------------------------------


def make_bench_campaign(trigger: str) -> Campaign:
    campaign = Campaign.objects.create(
        name=f"bench: {trigger}",
        status=CampaignStatus.LIVE,
        trigger_event=trigger,
        quiet_hours_start=clock_time(0),
        quiet_hours_end=clock_time(0),
        sms_cap_count=SMS_CAP,
    )
    CampaignStep.objects.create(
        campaign=campaign, position=0, kind=StepKind.SEND_SMS, body=SMS_BODY
    )
    return campaign


def phone(block: str, index: int) -> str:
    return f"+1415555{PHONE_BLOCKS[block] + index:04d}"


def identify_call(user_id: str, number: str, index: int) -> dict:
    return {
        "type": "identify",
        "userId": user_id,
        "messageId": f"{user_id}:identify",
        "traits": {
            "phone": number,
            "firstName": f"Ada{index}",
            "optIn": [{"channel": "sms", "subscribed": True}],
        },
    }


def track_call(user_id: str) -> dict:
    return {
        "type": "track",
        "userId": user_id,
        "event": TRIGGER,
        "messageId": f"{user_id}:started",
        "properties": {"product": "personal-loan", "amount": 2500},
    }


def auth_headers(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Live:
    url: str
    broker: str
    logs: list[Path]
    # Label to process group: each child leads its own (regal/processes.py).
    groups: dict[str, int] = field(default_factory=dict)
    # The q cluster's monitor and pusher, by pid.
    roles: dict[str, int] = field(default_factory=dict)

    def tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in self.logs
        )


def process_env(broker: str, *, url: str, standin: TwilioStandin) -> dict:
    """The environment of Regal's processes for one broker; settings as shipped."""
    env = {
        **os.environ,
        **BENCH_ENV,
        **standin.settings(),
        "PUBLIC_URL": url,
        "REGAL_TICK_SECONDS": TICK_SECONDS,
        "REGAL_VAR_DIR": str(LOG_DIR / f"campaigns-{broker}"),
    }
    env.pop("LOG_LEVEL", None)
    if broker == "orm":
        env.pop("REDIS_URL")
    return env


@contextmanager
def running_regal(broker: str, standin: TwilioStandin):
    """Daphne and the q cluster, as `manage.py serve` starts them; stopped after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = process_env(broker, url=url, standin=standin)
    Path(env["REGAL_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    if broker == "orm":
        # Without Redis the channel layer keeps its messages in a SQLite file.
        subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--database",
             "channels", "-v0"],
            env=env, cwd=BASE_DIR, check=True, timeout=SETUP_TIMEOUT_SECONDS,
        )  # fmt: skip
    restart_ticker()
    children, logs = [], []
    try:
        for name, command in process_commands(host="127.0.0.1", port=port).items():
            log = LOG_DIR / f"campaigns-{broker}-{name}.log"
            logs.append(log)
            with log.open("w") as out:
                children.append(
                    start_process(
                        command, env=env, cwd=BASE_DIR, stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        live = Live(
            url,
            broker,
            logs,
            {"daphne": children[0].pid, "q cluster": children[1].pid},
        )
        wait_until_serving(live, children)
        live.roles = q_cluster_roles(children[1].pid)
        yield live
    finally:
        stop_processes(children)
        OrmQ.objects.all().delete()


def restart_ticker() -> None:
    """Let the new cluster's first scheduler run start a chain of ticks at once.

    The previous cluster's chain holds the lease for up to half a minute after
    it stopped, and its schedule is not due for up to a minute.
    """
    CampaignTicker.objects.all().delete()
    Schedule.objects.filter(name=TICKER_NAME).update(next_run=timezone.now())


def wait_until_serving(live: Live, children: list) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError(f"Regal exited while starting:\n{live.tail()}")
        try:
            with urllib.request.urlopen(f"{live.url}/login/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"Regal did not serve within {STARTUP_TIMEOUT_SECONDS}s")


def queued_tasks(broker: str) -> int:
    """Tasks waiting for a worker. The ORM broker keeps a task's row, locked,
    until it is done: the running tick is not waiting."""
    if broker == "orm":
        return OrmQ.objects.filter(lock__lte=timezone.now()).count()
    return queued_in_redis()


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise RuntimeError(f"{what}: not within {timeout:.0f}s")


def post_json(url: str, body: dict, headers: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
        if answer.status != 200:
            raise RuntimeError(f"{url} answered {answer.status}")


def identify_people(live: Live, headers: dict, people: list[tuple[str, str]]) -> None:
    """Identify each (userId, phone) with SMS consent, in batches; untimed."""
    calls = [
        identify_call(user_id, number, index)
        for index, (user_id, number) in enumerate(people)
    ]
    for start in range(0, len(calls), IDENTIFY_BATCH):
        post_json(
            f"{live.url}/v1/batch",
            {"batch": calls[start : start + IDENTIFY_BATCH]},
            headers,
        )


def wait_until_idle(live: Live, *, timeout: float) -> None:
    """Wait for the queue to empty, then a little for the tasks in hand to end."""
    wait_until(
        lambda: queued_tasks(live.broker) == 0,
        timeout=timeout,
        what=f"the {live.broker} broker's queue to empty",
    )
    time.sleep(1.0)


@dataclass
class LatencyRound:
    """One round of timed track calls, each from a person of its own."""

    index: int
    requests: int = 0
    failures: list = field(default_factory=list)
    # Per phone: when its request left, was answered, its SMS arrived (monotonic).
    sent_at: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)
    received_at: dict[str, float] = field(default_factory=dict)
    stages: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: str = ""
    busy_before: float = 0.0

    @property
    def latencies(self) -> list[float]:
        return [
            self.received_at[number] - sent
            for number, sent in self.sent_at.items()
            if number in self.received_at
        ]

    @property
    def missing(self) -> int:
        return len(self.sent_at) - len(self.latencies)

    @property
    def answers(self) -> list[float]:
        return [
            self.answered_at[number] - self.sent_at[number]
            for number in self.answered_at
        ]


@dataclass
class LatencyRun:
    """Every round on one broker, and the untimed one-at-a-time warm-up."""

    broker: str
    rounds: list[LatencyRound] = field(default_factory=list)
    warm_up: list[float] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return [value for one in self.rounds for value in one.latencies]

    @property
    def answers(self) -> list[float]:
        return [value for one in self.rounds for value in one.answers]

    @property
    def missing(self) -> int:
        return sum(one.missing for one in self.rounds)

    @property
    def failures(self) -> list:
        return [failure for one in self.rounds for failure in one.failures]

    def stage(self, key: str) -> list[float]:
        return [value for one in self.rounds for value in one.stages.get(key, [])]

    @property
    def quietest(self) -> LatencyRound | None:
        """The round that other work on the machine disturbed least."""
        return min(self.rounds, key=lambda one: one.cpu.get("other", 0), default=None)


async def send_tracks(
    url: str,
    calls: list[tuple[str, dict]],
    *,
    rate: float,
    headers: dict,
    run: LatencyRound,
) -> None:
    """Send one track call every 1/rate seconds whatever the answers."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=0)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def send(number: str, body: bytes) -> None:
            run.sent_at[number] = time.monotonic()
            try:
                async with session.post(url, data=body) as response:
                    answer = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                run.failures.append(("error", repr(exc)))
                return
            run.answered_at[number] = time.monotonic()
            run.requests += 1
            if response.status != 200:
                run.failures.append((response.status, answer[:300]))

        start = loop.time() + 0.2
        tasks = []
        for index, (number, call) in enumerate(calls):
            await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
            body = json.dumps(call).encode()
            tasks.append(asyncio.create_task(send(number, body)))
        await asyncio.gather(*tasks)


def received_by_phone(standin: TwilioStandin) -> dict[str, float]:
    return {sent.params["To"]: sent.received_at for sent in standin.messages}


def measure_latency(args, broker: str, source: Source) -> LatencyRun:
    """Time event to SMS on one broker: `args.rounds` rounds of `args.requests`
    track calls, each from a new person."""
    run = LatencyRun(broker)
    headers = auth_headers(source.write_key)
    count = args.rounds * args.requests
    people = [(f"{broker}-{index:04d}", phone(broker, index))
              for index in range(count)]  # fmt: skip
    first_warm = 0 if broker == "orm" else 500
    warm = [(f"{broker}-warm-{index:02d}", phone("warm", first_warm + index))
            for index in range(WARM_UP_REQUESTS)]  # fmt: skip
    standin = TwilioStandin()
    standin.start()
    try:
        with running_regal(broker, standin) as live:
            logger.info("%s broker: Regal at %s; identifying %d people", broker,
                        live.url, len(people) + len(warm))  # fmt: skip
            identify_people(live, headers, warm + people)
            wait_until_idle(live, timeout=args.phase_limit)
            run.warm_up = warm_up(live, standin, headers, warm, args)
            logger.info("%s broker: warm; waiting for the chain of ticks", broker)
            wait_until(
                lambda: CampaignTicker.objects.filter(
                    lease_until__gt=timezone.now()
                ).exists(),
                timeout=TICKER_TIMEOUT_SECONDS,
                what="the q cluster's ticker to start",
                interval=0.5,
            )
            for index in range(args.rounds):
                group = people[index * args.requests : (index + 1) * args.requests]
                wait_until_idle(live, timeout=args.phase_limit)
                run.rounds.append(
                    time_round(args, live, standin, source, headers, group, index)
                )
    finally:
        standin.stop()
    logger.info(
        "%s broker: event to SMS p50 %s, p95 %s, p99 %s over %d; one at a time p50 %s",
        broker,
        ms(percentile(run.latencies, 50)),
        ms(percentile(run.latencies, 95)),
        ms(percentile(run.latencies, 99)),
        len(run.latencies),
        ms(percentile(run.warm_up, 50)),
    )
    return run


def time_round(args, live: Live, standin, source, headers, people, index: int):
    """Send the people's track calls at args.rate; wait for every SMS, bounded."""
    run = LatencyRound(index + 1)
    what = f"{live.broker} broker, round {run.index}"
    run.busy_before = wait_for_quiet(args.quiet_wait, what=what)
    run.load = load_average()
    logger.info("%s: %d track calls at %g/s", what, len(people), args.rate)
    calls = [(number, track_call(user_id)) for user_id, number in people]
    cpu_before = cpu_snapshot(live.groups, live.roles)
    started = time.monotonic()
    asyncio.run(
        send_tracks(f"{live.url}/v1/track", calls, rate=args.rate, headers=headers,
                    run=run)
    )  # fmt: skip
    expected = {number for _, number in people}
    deadline = time.monotonic() + args.phase_limit
    while time.monotonic() < deadline:
        if expected <= set(received_by_phone(standin)):
            break
        time.sleep(0.1)
    run.elapsed = time.monotonic() - started
    run.cpu = cores_used(cpu_before, cpu_snapshot(live.groups, live.roles), run.elapsed)
    received = received_by_phone(standin)
    run.received_at = {n: received[n] for n in expected if n in received}
    run.stages = stage_times(run, source)
    if run.missing:
        logger.warning("%s: %d SMS missing\n%s", what, run.missing, live.tail())
    logger.info(
        "%s: p50 %s, p95 %s, p99 %s; cores %s",
        what,
        ms(percentile(run.latencies, 50)),
        ms(percentile(run.latencies, 95)),
        ms(percentile(run.latencies, 99)),
        ", ".join(f"{key} {value:.2f}" for key, value in run.cpu.items()),
    )
    return run


def warm_up(live: Live, standin: TwilioStandin, headers, warm, args) -> list[float]:
    """Text the warm-up people one after another, so that every worker has run
    both tasks once (imports, connections, the twilio client) before timing."""
    timings = []
    for user_id, number in warm:
        sent = time.monotonic()
        post_json(f"{live.url}/v1/track", track_call(user_id), headers)
        wait_until(
            lambda number=number: number in received_by_phone(standin),
            timeout=args.phase_limit,
            what=f"the warm-up SMS to {number}",
            interval=0.02,
        )
        timings.append(received_by_phone(standin)[number] - sent)
    return timings


def stage_times(run: LatencyRound, source: Source) -> dict[str, list[float]]:
    """Where the time went: request to stored event, to queued SMS, to Twilio.

    The database's timestamps are wall-clock time; the bench's are monotonic.
    One offset, taken now, converts between them on this one machine.
    """
    offset = time.time() - time.monotonic()
    events = dict(
        Event.objects.filter(
            source=source, name=TRIGGER, contact__phone__in=list(run.received_at)
        ).values_list("contact__phone", "created_at")
    )
    messages = dict(
        Message.objects.filter(
            direction=Direction.OUTBOUND,
            conversation__contact__phone__in=list(run.received_at),
        ).values_list("conversation__contact__phone", "created_at")
    )
    stages = {"stored": [], "queued": [], "sent": []}
    for number, received in run.received_at.items():
        if number not in events or number not in messages:
            continue
        stored = events[number].timestamp() - offset
        queued = messages[number].timestamp() - offset
        stages["stored"].append(stored - run.sent_at[number])
        stages["queued"].append(queued - stored)
        stages["sent"].append(received - queued)
    return stages


# Phase 4: evaluation cost ---------------------------------------------------------


@dataclass
class CostRun:
    campaigns: int
    events: int = 0
    seconds: float = 0.0
    enrolled: int = 0
    messages: int = 0
    counted_events: int = 0
    queries: int = 0
    per_event: list[float] = field(default_factory=list)
    busy_before: float = 0.0
    trigger_plan: str = ""

    @property
    def ms_per_event(self) -> float:
        return 1000 * self.seconds / self.events if self.events else float("nan")

    @property
    def queries_per_event(self) -> float:
        return self.queries / self.counted_events if self.counted_events else 0.0


def reset_campaigns() -> None:
    CampaignEnrollment.objects.all().delete()
    Campaign.objects.all().delete()


def make_waiting_campaigns(count: int) -> None:
    """`count` live campaigns, each waiting for an event of its own name."""
    campaigns = Campaign.objects.bulk_create(
        Campaign(
            name=f"bench: Event {index}",
            status=CampaignStatus.LIVE,
            trigger_event=f"Event {index}",
            quiet_hours_start=clock_time(0),
            quiet_hours_end=clock_time(0),
            sms_cap_count=SMS_CAP,
        )
        for index in range(count)
    )
    CampaignStep.objects.bulk_create(
        (
            CampaignStep(
                campaign=campaign, position=0, kind=StepKind.SEND_SMS, body=SMS_BODY
            )
            for campaign in campaigns
        ),
        batch_size=2000,
    )


def store_trigger_events(source: Source, round_index: int, count: int) -> list[int]:
    """Identify `count` new consenting people and store one trigger event of each,
    without handing the events on; return the trigger events' ids in order."""
    area = COST_AREA_CODES[round_index]
    users = [
        (f"cost-{round_index}-{index:04d}", f"+1{area}555{2000 + index:04d}")
        for index in range(count)
    ]
    for start in range(0, count, IDENTIFY_BATCH):
        chunk = users[start : start + IDENTIFY_BATCH]
        ingest_events(
            source,
            [identify_call(user_id, number, index)
             for index, (user_id, number) in enumerate(chunk)],
            notify=False,
        )  # fmt: skip
        ingest_events(
            source, [track_call(user_id) for user_id, _ in chunk], notify=False
        )
    user_ids = [user_id for user_id, _ in users]
    by_user = dict(
        Event.objects.filter(source=source, name=TRIGGER, user_id__in=user_ids)
        .values_list("user_id", "pk")
    )  # fmt: skip
    if len(by_user) != count:
        raise RuntimeError(f"stored {len(by_user)} trigger events, not {count}")
    return [by_user[user_id] for user_id in user_ids]


def trigger_lookup_plan() -> str:
    """How PostgreSQL finds the live campaigns of an event name: the plan's
    scan node, an index scan rather than a scan of every campaign."""
    plan = list_live_campaigns_triggered_by(TRIGGER).explain()
    scans = [line.strip(" ->") for line in plan.splitlines() if "Scan" in line]
    return re.sub(r"\s+\(cost=.*$", "", scans[0]) if scans else plan


def measure_cost(args, source: Source, count: int, round_index: int) -> CostRun:
    """Time evaluate_events per event with `count` live campaigns."""
    run = CostRun(count)
    reset_campaigns()
    make_waiting_campaigns(count - 1)
    make_bench_campaign(TRIGGER)
    total = args.warm_events + args.events + args.count_events
    event_ids = store_trigger_events(source, round_index, total)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    run.trigger_plan = trigger_lookup_plan()
    flush_redis()
    warm = event_ids[: args.warm_events]
    timed = event_ids[args.warm_events : args.warm_events + args.events]
    counted = event_ids[args.warm_events + args.events :]
    for event_id in warm:
        evaluate_events([event_id])
    run.busy_before = wait_for_quiet(args.quiet_wait, what=f"{count} campaigns")

    deadline = time.monotonic() + args.phase_limit
    started = time.perf_counter()
    for event_id in timed:
        before = time.perf_counter()
        run.enrolled += evaluate_events([event_id])
        run.per_event.append(time.perf_counter() - before)
        run.events += 1
        if time.monotonic() > deadline:
            break
    run.seconds = time.perf_counter() - started

    with CaptureQueriesContext(connection) as queries:
        for event_id in counted:
            evaluate_events([event_id])
    run.queries = len(queries.captured_queries)
    run.counted_events = len(counted)
    run.messages = Message.objects.filter(
        direction=Direction.OUTBOUND,
        conversation__contact__events__pk__in=timed,
    ).count()
    flush_redis()
    logger.info(
        "%d live campaigns: %.2f ms/event, %.1f queries/event, %d enrolled, %d SMS",
        count, run.ms_per_event, run.queries_per_event, run.enrolled, run.messages,
    )  # fmt: skip
    return run


# The report ---------------------------------------------------------------------


def command_line() -> str:
    target = os.environ.get("BENCH_VIA_MAKE")
    if target:
        words = ["make", "bench" if target == "1" else target]
        options = os.environ.get("BENCH_CAMPAIGNS_ARGS")
        if options:
            words.append(f"BENCH_CAMPAIGNS_ARGS={shlex.quote(options)}")
        return " ".join(words)
    return " ".join(
        [".venv/bin/python -m bench.campaigns", shlex.join(sys.argv[1:])]
    ).strip()


def machine_lines(facts: dict) -> list[str]:
    return ["### Machine", "", *(f"- {key}: {value}" for key, value in facts.items())]


def latency_verdict(run: LatencyRun, target: float) -> str:
    """The Redis figure against the issue's target, pooled and on the quietest
    round, since the target is for an idle machine and this one is shared."""
    pooled = percentile(run.latencies, 95)
    quietest = run.quietest
    quiet = percentile(quietest.latencies, 95)

    def verdict(value: float) -> str:
        return "meets" if value < target else "does **not** meet"

    return (
        f"With the Redis broker, from the moment a `/v1/track` request leaves to "
        f"the moment the Twilio stand-in receives the SMS: **p95 {ms(pooled)}** "
        f"over all {len(run.rounds)} rounds, which {verdict(pooled)} the target "
        f"of p95 under {target:g} s on an idle 2-core machine; **p95 {ms(quiet)}** "
        f"in round {quietest.index}, the one other work on the machine disturbed "
        f"least ({quietest.cpu.get('other', 0):.2f} cores used outside Regal and "
        f"the bench), which {verdict(quiet)} it."
    )


def render_latency(args, facts, runs: dict[str, LatencyRun], floor) -> str:
    redis_run = runs.get("redis")
    target = 1.0
    lines = [
        LATENCY_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/campaigns.py`; "
        "the script rewrites this section on every run.",
        "",
        "```",
        command_line(),
        "```",
        "",
    ]
    if redis_run and redis_run.latencies:
        lines += [latency_verdict(redis_run, target), ""]
    lines += [
        "| broker | round | SMS | missing | failed requests | p50 | p95 | p99 | max "
        "| request p50 / p99 | cores used outside Regal and the bench |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, run in runs.items():
        for one in [*run.rounds, run]:
            label = f"{one.index}" if isinstance(one, LatencyRound) else "**all**"
            other = f"{one.cpu.get('other', 0):.2f}" if one in run.rounds else ""
            lines.append(
                f"| {BROKER_NAMES[name]} | {label} | {len(one.latencies)} | "
                f"{one.missing} | {len(one.failures)} | "
                + " | ".join(
                    ms(percentile(one.latencies, pct)) for pct in (50, 95, 99, 100)
                )
                + f" | {ms(percentile(one.answers, 50))} / "
                f"{ms(percentile(one.answers, 99))} | {other} |"
            )
    lines += [
        "",
        "| broker | one at a time: p50 | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {BROKER_NAMES[name]} | {ms(percentile(run.warm_up, 50))} | "
            f"{ms(percentile(run.warm_up, 0))} | {ms(percentile(run.warm_up, 100))} |"
        )
    lines += [
        f"| floor: one Redis LPUSH + BRPOP ({len(floor):,} times; p50, p99, max) | "
        f"{ms(percentile(floor, 50))} | {ms(percentile(floor, 99))} | "
        f"{ms(percentile(floor, 100))} |",
        "",
        f"*One at a time*: the untimed warm-up, {WARM_UP_REQUESTS} people whose "
        "track call was sent only once the previous SMS had arrived, so that no "
        "task waited behind another.",
        "",
    ]
    lines += ["| broker | round | busy before | load average (1/5/15 min) | cores "
              "used: " + " / ".join(CPU_PARTS) + " | machine busy |",
              "| --- | --- | ---: | --- | --- | ---: |"]  # fmt: skip
    for name, run in runs.items():
        for one in run.rounds:
            cpu = " / ".join(f"{one.cpu.get(part, 0):.2f}" for part in CPU_PARTS)
            lines.append(
                f"| {BROKER_NAMES[name]} | {one.index} | {one.busy_before:.0f}% | "
                f"{one.load} | {cpu} | {one.cpu.get('machine busy %', 0):.0f}% |"
            )
    lines += [
        "",
        "Cores used are CPU seconds per wall-clock second over a round "
        "(2.00 = both cores); the q cluster's include its workers, monitor, pusher "
        "and guard (q workers / monitor / pusher / guard: "
        + "; ".join(
            f"{BROKER_NAMES[name]} "
            + " / ".join(
                f"{mean(one.cpu.get(role, 0) for one in run.rounds):.2f}"
                for role in Q_CLUSTER_ROLES
            )
            for name, run in runs.items()
            if run.rounds
        )
        + ", averaged over the rounds); the bench includes the Twilio stand-in; "
        "*other* is what the rest of the machine used meanwhile. Before each "
        f"round the bench waits up to {args.quiet_wait:g} s for the machine to be "
        f"under {QUIET_BUSY_PERCENT:g}% busy over {QUIET_SAMPLE_SECONDS:g} s.",
        "",
        "An SMS takes two trips through the broker (the evaluation task, then "
        "the send task), each a push, a pop by the cluster's pusher process and a "
        "hand-over to a worker process.",
        "",
        "### Where the time goes",
        "",
        "From the database's timestamps (the stored event's and the queued "
        "message's `created_at`), set against the bench's clock:",
        "",
        "| broker | stage | p50 | p95 | p99 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    stage_names = {
        "stored": "request sent → event stored (ingestion)",
        "queued": "event stored → SMS queued (broker hop, evaluation, step)",
        "sent": "SMS queued → stand-in received (broker hop, twilio client)",
    }
    for name, run in runs.items():
        for key, label in stage_names.items():
            values = run.stage(key)
            lines.append(
                f"| {BROKER_NAMES[name]} | {label} | "
                + " | ".join(ms(percentile(values, pct)) for pct in (50, 95, 99))
                + " |"
            )
    q_cluster = settings.Q_CLUSTER
    lines += [
        "",
        "### Configuration",
        "",
        f"- Load: {args.rounds} rounds of {args.requests} `/v1/track` requests "
        f"per broker, one per person, {args.rate:g} per second, open loop (each "
        "leaves on schedule whatever the answers), from one aiohttp client in "
        "the bench process. Each person was identified first (phone, SMS "
        "consent), untimed; the latency counts from when the request left.",
        f"- Warm-up, untimed: {WARM_UP_REQUESTS} people texted one after another "
        "(so each worker has run both tasks once), then a wait for the chain of "
        "ticks to hold a worker, as it does in steady state.",
        f"- One live campaign: trigger `{TRIGGER}`, no wait, one SMS step, no "
        f"quiet hours (start equals end), frequency cap {SMS_CAP:,} SMS.",
        "- Processes as `manage.py serve` starts them: one daphne, one q cluster "
        f"(`manage.py qcluster`) with {q_cluster['workers']} workers (one of them "
        "held by the chain of ticks), settings as shipped (django-q2 "
        f"save_limit {q_cluster['save_limit']}, timeout {q_cluster['timeout']} s) "
        f"but REGAL_TICK_SECONDS={TICK_SECONDS}; both logging at INFO into "
        "var/bench/.",
        "- ORM broker: no REDIS_URL, so django-q2 keeps its queue in PostgreSQL "
        f"and polls it every {ORM_POLL:g} s; the channel layer is the embedded "
        "SQLite one. Redis broker: REDIS_URL set, Regal's "
        "`regal.brokers.SharedClientRedis` (pusher: BLPOP). Same database "
        f"`{DATABASE_NAME}`, dropped, created and migrated at the start of the run.",
        "- SMS through the real `twilio` client (TWILIO_API_BASE_URL) to the "
        "Twilio stand-in of the tests (`tests/twilio_standin.py`), a threaded "
        "HTTP server in the bench process that notes when each message arrives.",
        f"- Floor: redis-py, one connection, LPUSH then BRPOP of a 400-byte value, "
        f"{len(floor):,} times after 50 untimed.",
        "",
        *machine_lines(facts),
        "",
    ]
    return "\n".join(lines)


BROKER_NAMES = {"orm": "ORM (PostgreSQL)", "redis": "Redis"}
CPU_PARTS = ["daphne", "q cluster", "PostgreSQL", "Redis", "bench", "other"]
ORM_POLL = 0.2


def render_cost(args, facts, runs: list[CostRun]) -> str:
    base = runs[0]
    largest = runs[-1]
    ratio = largest.ms_per_event / base.ms_per_event
    verdict = "meets" if ratio <= 2 else "does **not** meet"
    lines = [
        COST_TITLE,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/campaigns.py`; "
        "the script rewrites this section on every run.",
        "",
        "```",
        command_line(),
        "```",
        "",
        f"With {largest.campaigns:,} live campaigns an event costs "
        f"**{ratio:.2f}×** what it costs with {base.campaigns:,}, which {verdict} "
        "the target of at most 2×. The target, and this measurement, are about "
        "campaigns waiting for *other* events: each event here matches one "
        "campaign, and the rest wait for events of their own names. Campaigns "
        "that all trigger on the same event each enroll the contact and run "
        "their steps, so that cost grows with their number by design, and is not "
        "measured here.",
        "",
        "| live campaigns | events timed | ms/event | p50 ms | p99 ms | ratio to "
        f"{base.campaigns:,} | queries/event | enrolled | SMS queued | machine "
        "busy before | trigger lookup plan |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {run.campaigns:,} | {run.events} | {run.ms_per_event:.2f} | "
            f"{percentile(run.per_event, 50) * 1000:.2f} | "
            f"{percentile(run.per_event, 99) * 1000:.2f} | "
            f"{run.ms_per_event / base.ms_per_event:.2f}× | "
            f"{run.queries_per_event:.1f} | {run.enrolled} | {run.messages} | "
            f"{run.busy_before:.0f}% | {run.trigger_plan} |"
        )
    lines += [
        "",
        "The plan is PostgreSQL's own choice after ANALYZE: a table of a few "
        "pages is read whole, a larger one through the index on `trigger_event`. "
        "The queries per event do not change with the number of campaigns.",
        "",
        "### Configuration",
        "",
        "- In the bench process, on PostgreSQL (database "
        f"`{DATABASE_NAME}`): for each count, the campaigns are made with "
        "`bulk_create`, each with one SMS step, all live; one of them is "
        f"triggered by `{TRIGGER}`, the others by `Event 0`, `Event 1`, … Then "
        "ANALYZE, as autovacuum would soon after.",
        f"- Events: {args.warm_events + args.events + args.count_events} new "
        "people per count, identified with a phone and SMS consent, and one "
        f"`{TRIGGER}` track event each, stored through `ingest_events` without "
        "being handed on. Each is then evaluated by its own "
        "`campaigns.services.evaluate_events([id])` call, as a one-event "
        "`/v1/track` request hands it on: it enrolls the person into the one "
        "matching campaign, runs the SMS step and queues the SMS.",
        f"- {args.warm_events} events untimed first, {args.events} timed "
        "(wall clock over the loop, and each call's own time for p50/p99), "
        f"then {args.count_events} more whose queries are counted with "
        "`CaptureQueriesContext` (counted apart, so the capture does not slow "
        "the timed loop).",
        "- The send tasks land in Redis (REDIS_URL set, Regal's shared-client "
        "broker) with no q cluster running, and are deleted; each queued SMS is "
        "also broadcast to the desk through the Redis channel layer, as in a "
        "worker. The bench process "
        "logs at WARNING, so the INFO lines of each enrollment are not written "
        "inside the timed loop.",
        "",
        *machine_lines(facts),
        "",
    ]
    return "\n".join(lines)


# The run ------------------------------------------------------------------------


def run_bench(args) -> None:
    facts = machine_facts()
    logger.info("recreating database %s", DATABASE_NAME)
    recreate_database()
    flush_redis()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    source = create_source("bench")
    sections = []

    if args.only in (None, "latency"):
        floor = redis_floor(args.floor_iterations)
        logger.info("Redis LPUSH + BRPOP: p50 %s, p99 %s", ms(percentile(floor, 50)),
                    ms(percentile(floor, 99)))  # fmt: skip
        make_bench_campaign(TRIGGER)
        runs = {broker: measure_latency(args, broker, source)
                for broker in args.brokers}  # fmt: skip
        sections.append((LATENCY_TITLE, render_latency(args, facts, runs, floor)))

    if args.only in (None, "cost"):
        costs = [
            measure_cost(args, source, count, index)
            for index, count in enumerate(args.campaigns)
        ]
        sections.append((COST_TITLE, render_cost(args, facts, costs)))

    for title, text in sections:
        sys.stdout.write(text + "\n")
        if not args.no_write:
            common.write_section(title, text)
            logger.info("wrote the %s section of %s", title, DOC_PATH)


def main() -> None:
    common.run_main(logger, lambda: run_bench(parse_args()), cleanup)


def cleanup() -> None:
    flush_redis()
    connection.close()


if __name__ == "__main__":
    main()
