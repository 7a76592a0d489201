from regal.errors import RegalError


class InvalidPhoneError(RegalError):
    code = "invalid_phone"


class InvalidIdentityError(RegalError):
    code = "invalid_identity"
