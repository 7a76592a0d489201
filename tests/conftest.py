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
