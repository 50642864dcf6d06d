"""The bootcamp's lessons, one module per day (``dayNN_topic.py``).

Modules are found by :mod:`dlbootcamp.registry` without being imported; nothing here
imports them either.
"""
