"""Management commands an operator types."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from events.models import Source
from tests.factories import make_source

pytestmark = pytest.mark.django_db


def test_createsource_prints_only_the_write_key():
    out = StringIO()

    call_command("createsource", "website", stdout=out)

    source = Source.objects.get(name="website")
    assert out.getvalue() == f"{source.write_key}\n"
    assert source.is_enabled is True


def test_createsource_refuses_a_name_already_taken():
    existing = make_source(name="website")
    out = StringIO()

    # A savepoint, as manage.py runs in autocommit and the test in a transaction.
    with pytest.raises(CommandError) as excinfo, transaction.atomic():
        call_command("createsource", "website", stdout=out)

    assert str(excinfo.value) == "a source named 'website' exists already"
    assert out.getvalue() == ""
    assert list(Source.objects.all()) == [existing]


@pytest.mark.django_db
def test_createsource_refuses_an_empty_name():
    with pytest.raises(CommandError, match="a source needs a name"):
        call_command("createsource", "  ", stdout=StringIO())

    assert not Source.objects.exists()
