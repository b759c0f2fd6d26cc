"""otpgen's one error type: a precise, one-line message the CLI prints as it stands."""


class OtpgenError(Exception):
    """Something the user can fix: the message says what is wrong and how to fix it.

    The CLI prints `error: <message>` and exits with `exit_code`; no traceback.
    """

    exit_code = 2
