import os

import pytest

from tests.live import running_regal


@pytest.fixture
def live_regal(transactional_db, tmp_path):
    """Regal's daphne and q cluster as real processes on the test database.

    Depends on transactional_db so that what a test writes is committed and
    visible to the processes, and so that they stop before the tables are
    flushed.
    """
    with running_regal(tmp_path) as live:
        yield live


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
