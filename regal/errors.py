class RegalError(Exception):
    """The one base for errors Regal reports to its callers.

    Subclasses set a stable `code`, which API clients may branch on, and the
    HTTP `status` the API answers with. The message is for people.
    """

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
