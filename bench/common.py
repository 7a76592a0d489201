"""What the benchmarks share: the machine's facts, a fresh database, and
their own sections of docs/benchmarks.md. Nothing here sets Django up, so
each bench can point Django at its own database before importing it."""

import logging
import os
import platform
import re
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DOC_PATH = BASE_DIR / "docs" / "benchmarks.md"
DOC_HEADER = (
    "# Benchmarks\n\nEach section is written by the script it names; "
    "rerun the script rather than editing the figures by hand.\n"
)


def machine_facts(*, server_url: str, redis_url: str, packages: list[str]) -> dict:
    """CPU, cores, memory, server versions, and the versions of `packages`."""
    import redis

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE).group(1))
    with psycopg.connect(f"{server_url}/postgres") as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "postgresql": pg_version,
        "redis": redis.from_url(redis_url).info("server")["redis_version"],
        "python": platform.python_version(),
        **{package: version(package.split(" ")[0]) for package in packages},
        "kernel": platform.release(),
    }


def recreate_database(*, server_url: str, name: str, env: dict, timeout: int) -> None:
    """Drop and create the bench's own database, then migrate it."""
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "-v0"],
        env={**os.environ, **env},
        cwd=BASE_DIR,
        check=True,
        timeout=timeout,
    )


def write_section(title: str, text: str) -> None:
    """Put a section in docs/benchmarks.md in place of the old one, if any."""
    document = DOC_PATH.read_text() if DOC_PATH.exists() else DOC_HEADER
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(document):
        document = pattern.sub(lambda _: text + "\n", document, count=1)
    else:
        document = document.rstrip("\n") + "\n\n" + text + "\n"
    DOC_PATH.write_text(document.rstrip("\n") + "\n")


def run_main(logger, run, cleanup) -> None:
    """Run a bench: its log to stderr, a SIGTERM unwinding like Ctrl-C through
    the finally blocks that stop what it started, then `cleanup`."""
    # Django's LOGGING has configured the root logger already: add our own.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        run()
    finally:
        cleanup()
