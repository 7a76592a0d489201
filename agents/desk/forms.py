import uuid

from django import forms

from agents.choices import CallDisposition
from agents.services import MAX_SMS_LENGTH


class ReplyForm(forms.Form):
    """An agent's SMS to the contact of the thread.

    `token` is rendered with the form and names this one reply: posting the
    same form twice (a double click, a retry after a dropped connection)
    queues one SMS.
    """

    body = forms.CharField(
        max_length=MAX_SMS_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Text the contact"}),
    )
    token = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)

    @classmethod
    def blank(cls) -> "ReplyForm":
        return cls(initial={"token": uuid.uuid4().hex})

    def idempotency_key(self) -> str:
        return f"desk-reply:{self.cleaned_data['token']}"


class CompleteTaskForm(forms.Form):
    """How an agent's call went, which closes its task."""

    disposition = forms.ChoiceField(choices=CallDisposition.choices)
    notes = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What was said"}),
    )

    def __init__(self, *args, **kwargs):
        # One form per task on the page: ids would clash, labels wrap instead.
        kwargs.setdefault("auto_id", False)
        super().__init__(*args, **kwargs)
