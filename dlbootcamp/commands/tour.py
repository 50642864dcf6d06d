"""`dlbootcamp tour`: being built (see the open issues)."""

HELP = "(tour: being built)"


def add_arguments(p):
    pass


def run(args) -> int:
    from dlbootcamp.errors import UserError

    raise UserError("`dlbootcamp tour` is not available in this version yet.")
