"""The base of every error caused by the user's input (files, configs, checkpoints).

Tools catch :class:`DetnasInputError`, print its message without a traceback and exit with
status 2; anything else is a bug and keeps its traceback.
"""


class DetnasInputError(ValueError):
    """Bad input: the message names the file or key and says how to fix it."""
