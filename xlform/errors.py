"""The one exception type the CLI turns into a Chinese message and an exit status (never a traceback)."""


class XlformError(Exception):
    """A problem the user can fix: bad arguments, a bad spec, a bad project list, an unreadable file."""

    exit_code = 2
