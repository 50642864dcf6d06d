"""The application: the ``dlbootcamp`` CLI, its commands, and ``pipeline``.

This is the top of the house and the only place where lessons meet the export layer:
``pipeline`` loads a lesson through the registry and hands its model, data and metric to
``dlbootcamp.export``. Nothing below imports from here.
"""
