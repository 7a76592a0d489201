from regal.errors import RegalError


class InvalidEventError(RegalError):
    code = "invalid_event"


class InvalidWriteKeyError(RegalError):
    code = "invalid_write_key"
    status = 401
