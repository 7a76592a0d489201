"""Forms of the campaign builder's admin pages."""

from django import forms

from campaigns import pick_lists
from campaigns.choices import ConditionRole, StepKind
from campaigns.conditions import ValueType
from campaigns.dry_run import MAX_DAYS
from campaigns.models import Campaign, CampaignCondition, CampaignStep

# The ids of the <datalist>s the builder's pages carry; text inputs name one
# in their `list` attribute to offer its options while allowing free text.
EVENT_NAMES_LIST = "regal-event-names"
CONDITION_KEYS_LIST = "regal-condition-keys"


class CampaignConditionForm(forms.ModelForm):
    """A condition whose type, left at its default, is taken from the registry.

    An admin who picks a key the registry has seen as a number, a boolean or a
    date and time should not also have to say so: when the type is left at
    Text on a new condition, or on one whose key changed, the registry's type
    is used.
    """

    class Meta:
        model = CampaignCondition
        fields = [
            "role",
            "step",
            "exit",
            "group",
            "subject",
            "key",
            "operator",
            "value",
            "value_type",
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.leaves_value_type_default(cleaned):
            return cleaned
        campaign, role = self.owner(cleaned)
        if campaign is None:
            return cleaned
        found = pick_lists.registry_value_type(
            subject=cleaned["subject"],
            key=cleaned["key"],
            event_name=pick_lists.condition_event_name(
                campaign, role=role, exit_rule=cleaned.get("exit")
            ),
        )
        if found:
            cleaned["value_type"] = found
        return cleaned

    def leaves_value_type_default(self, cleaned: dict) -> bool:
        return (
            bool(cleaned.get("key"))
            and bool(cleaned.get("subject"))
            and cleaned.get("value_type") == ValueType.STRING
            and "value_type" not in self.changed_data
            and (self.instance.pk is None or "key" in self.changed_data)
        )

    def owner(self, cleaned: dict) -> tuple[Campaign | None, str]:
        """The campaign (as posted, maybe unsaved) and the condition's role.

        An inline's foreign key cleans to its parent: the campaign on the
        campaign's page, the step on a step's page (where conditions branch).
        """
        campaign = cleaned.get("campaign")
        if isinstance(campaign, Campaign):
            return campaign, cleaned.get("role") or ConditionRole.TRIGGER
        step = cleaned.get("step")
        if isinstance(step, CampaignStep):
            return step.campaign, ConditionRole.BRANCH
        return None, ""


class PreviewForm(forms.Form):
    step = forms.ModelChoiceField(queryset=CampaignStep.objects.none())
    contact = forms.CharField(
        max_length=50, help_text="The contact's phone number, in any format, or id."
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["step"].queryset = sms_steps(campaign)


class SendTestForm(forms.Form):
    step = forms.ModelChoiceField(
        queryset=CampaignStep.objects.none(), widget=forms.HiddenInput
    )
    contact = forms.CharField(max_length=50, widget=forms.HiddenInput)
    to_phone = forms.CharField(
        label="Send to",
        max_length=50,
        help_text="Your own phone: the text goes there, and nowhere else.",
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["step"].queryset = sms_steps(campaign)


class DryRunForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        initial=7,
        help_text=f"Replay the trigger events of the last 1 to {MAX_DAYS} days.",
    )


def sms_steps(campaign: Campaign):
    return CampaignStep.objects.filter(
        campaign=campaign, kind=StepKind.SEND_SMS
    ).order_by("position", "id")
