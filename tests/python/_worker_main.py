"""The ``__main__`` file of a pytest-xdist worker (tests/python/conftest.py sets it; nothing runs here).

An xdist worker's ``__main__`` module has no ``__file__``. pyspark (installed with the spark group) takes that for
a doctest run and calls ``sys.exit(0)`` when ``pyspark.sql.connect`` is imported, which Great Expectations does;
and a ``spawn`` process pool re-imports the parent's ``__main__`` file in its children. This empty file is a
harmless answer to both.
"""
