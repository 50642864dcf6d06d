"""dlbootcamp: a hands-on deep learning bootcamp that ships as software.

The core (this package) holds what every lesson and the CLI stand on: the lesson contract
and registry, data sources, training helpers and run records. Nothing heavy is imported
here, so `dlbootcamp --help` and `dlbootcamp lessons` stay instant.
"""

__version__ = "0.1.0"
