"""The release of the package (private: read it as ``reservation_core.__version__``).

In a module of its own, as httpx and psycopg keep theirs, so that code at the edges
(instrumentation, the CLI) can name the version without importing the package's face.
"""

__version__ = "0.2.0"
