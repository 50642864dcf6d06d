"""`dlbootcamp report`: being built (see the open issues)."""

HELP = "(report: being built)"


def add_arguments(p):
    pass


def run(args) -> int:
    from dlbootcamp.errors import UserError

    raise UserError("`dlbootcamp report` is not available in this version yet.")
