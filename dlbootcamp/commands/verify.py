"""`dlbootcamp verify`: being built (see the open issues)."""

HELP = "(verify: being built)"


def add_arguments(p):
    pass


def run(args) -> int:
    from dlbootcamp.errors import UserError

    raise UserError("`dlbootcamp verify` is not available in this version yet.")
