"""The OpenAPI schema and docs page, and every operation probed by schemathesis.

Schemathesis loads the schema from Regal's own WSGI application and sends its
generated requests there, in this process and inside the test's database
transaction, authenticated as an integrator would be: an API token for the read
API, a source's write key for ingestion.
"""

import urllib.request
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from tests.factories import make_api_token, make_contact, make_event, make_source

READ_PATHS = {
    "/api/v1/contacts/",
    "/api/v1/contacts/{id}/",
    "/api/v1/contacts/{contact_id}/events/",
    "/api/v1/events/",
}
INGESTION_PATHS = {
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/v1/screen",
    "/v1/batch",
    "/v1/import",
}

app = get_wsgi_application()
api_schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)


def test_schema_is_a_valid_openapi_3_document():
    response = APIClient().get("/api/schema/?format=json")

    assert response.status_code == 200
    document = response.json()
    validate_schema(document)
    assert document["openapi"].startswith("3.")


def test_schema_lists_the_read_api_and_the_ingestion_api():
    document = APIClient().get("/api/schema/?format=json").json()

    assert set(document["paths"]) >= READ_PATHS | INGESTION_PATHS


def test_schema_describes_an_ingestion_body_and_its_write_key():
    document = APIClient().get("/api/schema/?format=json").json()

    track = document["paths"]["/v1/track"]["post"]
    body = track["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TrackCallRequest"}
    assert document["components"]["schemas"]["TrackCallRequest"]["required"] == [
        "event"
    ]
    assert track["security"] == [{"writeKeyBasic": []}, {"writeKeyBearer": []}]


def test_schema_names_token_auth_for_the_read_api():
    document = APIClient().get("/api/schema/?format=json").json()

    contacts = document["paths"]["/api/v1/contacts/"]["get"]
    assert contacts["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]


def test_docs_page_loads_swagger_ui_from_regal_not_a_cdn():
    response = APIClient().get("/api/docs/")

    page = response.content.decode()
    assert response.status_code == 200
    assert (
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/'
        'swagger-ui-bundle.js"></script>'
    ) in page
    assert "cdn" not in page.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


@pytest.mark.e2e
def test_docs_page_and_its_scripts_are_served_by_regal_itself(live_regal):
    script = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"

    with urllib.request.urlopen(f"{live_regal.url}/api/docs/", timeout=10) as page:
        page_status = page.status
    with urllib.request.urlopen(f"{live_regal.url}{script}", timeout=10) as bundle:
        bundle_status, bundle_type = bundle.status, bundle.headers["Content-Type"]

    assert page_status == 200
    assert bundle_status == 200
    assert bundle_type in {"text/javascript", "application/javascript"}


# Schemathesis --------------------------------------------------------------------


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Keep Django from closing the test's connection at the end of each request.

    Django's test client does the same around each of its requests; the WSGI
    handler schemathesis calls would otherwise drop the test transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db, wsgi_keeps_the_test_connection):
    """A token, a write key, and a little data for the generated requests to find."""
    contact = make_contact(sms_consent=True, properties={"plan": "gold"})
    make_event(contact)
    return {
        "token": make_api_token().key,
        "write_key": make_source().write_key,
        "contact_id": contact.pk,
    }


def auth_header(path: str, credentials: dict) -> dict:
    if path.startswith("/api/"):
        return {"Authorization": f"Token {credentials['token']}"}
    return {"Authorization": f"Bearer {credentials['write_key']}"}


@api_schema.parametrize()
@settings(
    max_examples=30,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_operation_answers_a_server_error(case, credentials):
    # A generated id would only ever find no contact; the real one reaches the
    # serializers too. Ids that are not integers are sent as generated.
    for name in ("id", "contact_id"):
        if isinstance((case.path_parameters or {}).get(name), int):
            case.path_parameters[name] = credentials["contact_id"]

    response = case.call(headers=auth_header(case.path, credentials))

    case.validate_response(response, checks=[not_a_server_error])
