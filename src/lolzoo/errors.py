"""The one base class of errors caused by user input; the CLI prints them as one line."""


class LolzooError(ValueError):
    """Bad input (config, LoRA file, arguments); the message names the problem."""


class UserError(LolzooError):
    """Bad command-line arguments."""
