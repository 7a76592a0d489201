"""The contact admin keeps what an admin types to the shapes Regal reads."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from campaigns.services import evaluate_events
from contacts.models import Contact
from tests.factories import make_campaign, make_contact, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def change_form(contact: Contact, **overrides) -> dict:
    data = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "timezone": contact.timezone,
        "address": "{}",
        "properties": "{}",
        **overrides,
    }
    for prefix in ("consents", "consent_changes", "enrollments"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [("properties", "[1, 2]"), ("properties", '"text"'), ("address", '"x"')],
    ids=["properties-list", "properties-string", "address-string"],
)
def test_contact_admin_refuses_json_that_is_not_an_object(admin_client, field, value):
    contact = make_contact(properties={"plan": "gold"})

    response = admin_client.post(
        f"/admin/contacts/contact/{contact.pk}/change/",
        change_form(contact, **{field: value}),
    )

    assert response.status_code == 200
    assert "must be a JSON object" in response.content.decode()
    contact.refresh_from_db()
    assert (contact.properties, contact.address) == ({"plan": "gold"}, {})


def test_contact_admin_refuses_an_unknown_time_zone(admin_client):
    contact = make_contact()

    response = admin_client.post(
        f"/admin/contacts/contact/{contact.pk}/change/",
        change_form(contact, timezone="Mars/Olympus"),
    )

    assert "is not an IANA time zone" in response.content.decode()
    contact.refresh_from_db()
    assert contact.timezone == ""


def test_contact_admin_adds_a_contact_with_its_phone_in_e164(admin_client):
    admin_client.post(
        "/admin/contacts/contact/add/",
        {**change_form(Contact()), "phone": "(415) 555-2671"},
    )

    assert list(Contact.objects.values_list("phone", flat=True)) == ["+14155552671"]


def test_contact_admin_refuses_to_add_a_contact_without_a_valid_phone(admin_client):
    response = admin_client.post(
        "/admin/contacts/contact/add/", {**change_form(Contact()), "phone": "12345"}
    )

    assert "short code" in response.content.decode()
    assert not Contact.objects.exists()


def test_contact_page_lists_the_contacts_enrollments(admin_client):
    campaign = make_campaign(wait=timedelta(minutes=30))
    contact = make_contact(sms_consent=True)
    evaluate_events([make_event(contact, name=campaign.trigger_event).pk])

    response = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert campaign.name in page
    assert "/admin/campaigns/campaignenrollment/" in page
