from regal.errors import RegalError


class CallTaskNotOpenError(RegalError):
    """The task was already completed or cancelled; nothing was changed."""

    code = "call_task_not_open"
    status = 409


class InvalidCallTaskError(RegalError):
    """A call task asked for with a value it cannot have (a priority, a disposition)."""

    code = "invalid_call_task"
