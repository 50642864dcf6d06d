"""`dlbootcamp bench`: being built (see the open issues)."""

HELP = "(bench: being built)"


def add_arguments(p):
    pass


def run(args) -> int:
    from dlbootcamp.errors import UserError

    raise UserError("`dlbootcamp bench` is not available in this version yet.")
