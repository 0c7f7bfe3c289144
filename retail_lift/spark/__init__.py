"""Apache Spark: the Python layer of the warehouse on a Spark target (dbt-spark runs SQL models only).

Needs the optional ``spark`` dependency group (``pip install -e '.[spark]'``) and Java 17.
"""
