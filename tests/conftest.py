import os

import pytest

from tests.live import running_regal
from tests.twilio_standin import running_twilio_standin


@pytest.fixture
def live_regal(transactional_db, tmp_path):
    """Regal's daphne and q cluster as real processes on the test database.

    Depends on transactional_db so that what a test writes is committed and
    visible to the processes, and so that they stop before the tables are
    flushed.
    """
    with running_regal(tmp_path) as live:
        yield live


@pytest.fixture
def twilio_standin():
    """A local stand-in for Twilio's Messages API, on a port of its own."""
    with running_twilio_standin() as standin:
        yield standin


def require(condition: bool, reason: str) -> None:
    """Skip the calling test unless `condition` holds; in CI, fail it instead.

    `reason` says what to install. CI sets REGAL_REQUIRE_ALL_TESTS=1 so that a
    missing browser or package fails the run rather than quietly skipping
    what it was meant to prove.
    """
    if condition:
        return
    if os.environ.get("REGAL_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"REGAL_REQUIRE_ALL_TESTS=1 but {reason}", pytrace=False)
    pytest.skip(reason)
