from regal.errors import RegalError


class PreviewError(RegalError):
    """A step cannot be previewed or test-sent; the message says why."""

    code = "preview_failed"


class DryRunError(RegalError):
    """A campaign cannot be dry-run; the message says why."""

    code = "dry_run_refused"
