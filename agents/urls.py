from django.urls import path

from agents import webhooks

urlpatterns = [
    path("sms", webhooks.inbound_sms, name="twilio-inbound-sms"),
    path("sms/status", webhooks.sms_status, name="twilio-sms-status"),
    path("voice/status", webhooks.call_status, name="twilio-call-status"),
]
