"""SMS templates: what they render from, what they may not reach, what is refused."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.choices import StepKind
from campaigns.models import Campaign, CampaignStep
from campaigns.templating import InvalidTemplateError, render_template
from contacts.models import Contact
from events.models import Event


def contact(**fields) -> Contact:
    return Contact(phone="+14155550123", **fields)


def sms_step(body: str) -> CampaignStep:
    return CampaignStep(kind=StepKind.SEND_SMS, body=body)


def test_render_template_reads_contact_event_and_campaign():
    source = (
        "{{ contact.first_name }} {{ contact.phone }} {{ contact.properties.plan }} "
        "{{ event.name }} {{ event.properties.product }} {{ campaign.name }}"
    )

    text = render_template(
        source,
        contact=contact(first_name="Ada", properties={"plan": "gold"}),
        event=Event(name="Application Started", properties={"product": "loan"}),
        campaign=Campaign(name="Nudge"),
    )

    assert text == "Ada +14155550123 gold Application Started loan Nudge"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('Hi {{ contact.first_name|default:"there" }}', "Hi there"),
        ('Your {{ contact.properties.plan|default:"basic" }} plan', "Your basic plan"),
        (
            'Finish your {{ event.properties.product|default:"form" }}',
            "Finish your form",
        ),
        ("Hi {{ contact.nickname }}!", "Hi !"),
    ],
    ids=["blank-field", "missing-property", "missing-event-property", "no-default"],
)
def test_render_template_fills_in_missing_values(source, expected):
    text = render_template(
        source, contact=contact(), event=Event(name="Started"), campaign=None
    )

    assert text == expected


def test_render_template_without_event_or_campaign_renders_them_empty():
    text = render_template(
        "[{{ event.name }}][{{ campaign.name }}]", contact=contact(), event=None
    )

    assert text == "[][]"


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.id }}",
        "{{ contact.consents }}",
        "{{ contact.profiles.all }}",
        "{{ contact.save }}",
        "{{ event.source.write_key }}",
        "{{ event.contact.phone }}",
        "{{ campaign.steps.all }}",
        "{{ settings.SECRET_KEY }}",
        "{{ request.META }}",
        "{{ user }}",
    ],
)
def test_render_template_reaches_nothing_beyond_its_data(source):
    saved = contact(first_name="Ada")

    text = render_template(
        source,
        contact=saved,
        event=Event(name="Started"),
        campaign=Campaign(name="Nudge"),
    )

    assert text == ""


@pytest.mark.parametrize(
    ("source", "tag"),
    [
        ("{% debug %}", "debug"),
        ('{% include "admin/base.html" %}', "include"),
        ('{% extends "admin/base.html" %}', "extends"),
        ('{% if contact %}{% include "admin/base.html" %}{% endif %}', "include"),
        ('{% url "admin:index" %}', "url"),
    ],
    ids=["debug", "include", "extends", "nested-include", "url"],
)
def test_render_template_refuses_tags_that_reach_outside_the_data(
    source, tag, settings
):
    settings.DEBUG = True

    with pytest.raises(InvalidTemplateError) as excinfo:
        render_template(source, contact=contact())

    assert excinfo.value.message == f"SMS templates may not use {{% {tag} %}}"


@pytest.mark.parametrize(
    "body",
    [
        "Hi {{ }}",
        "{% if contact.first_name %}Hi",
        "{{ contact.first_name|no_such_filter }}",
        "{% load static %}",
        "{{ contact.__class__ }}",
        "{% debug %}",
        '{% include "admin/base.html" %}',
    ],
    ids=[
        "empty-variable",
        "unclosed-tag",
        "unknown-filter",
        "load",
        "underscore",
        "debug",
        "include",
    ],
)
def test_sms_step_clean_refuses_invalid_template(body):
    step = sms_step(body)

    with pytest.raises(ValidationError) as excinfo:
        step.clean()

    assert list(excinfo.value.message_dict) == ["body"]


def test_sms_step_clean_accepts_valid_template():
    step = sms_step('Hi {{ contact.first_name|default:"there" }}, finish it')

    assert step.clean() is None


def test_sms_step_clean_refuses_empty_text():
    step = sms_step("  ")

    with pytest.raises(ValidationError) as excinfo:
        step.clean()

    assert excinfo.value.message_dict == {"body": ["An SMS step needs a text."]}
