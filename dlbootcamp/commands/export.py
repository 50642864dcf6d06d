"""`dlbootcamp export`: being built (see the open issues)."""

HELP = "(export: being built)"


def add_arguments(p):
    pass


def run(args) -> int:
    from dlbootcamp.errors import UserError

    raise UserError("`dlbootcamp export` is not available in this version yet.")
