"""Data quality: Great Expectations suites over the raw tables, the marts and the scored tables.

- ``retail_lift.quality.suites``   what is checked, table by table (the registry; start reading here)
- ``retail_lift.quality.checks``   the building blocks: row checks, whole-table checks, severities
- ``retail_lift.quality.derived``  columns computed in pandas before validation (parsed decision JSON)
- ``retail_lift.quality.sources``  short-lived read-only DuckDB reads and batches of rows
- ``retail_lift.quality.runner``   ``run_checkpoint``: run every suite, write the summary and Data Docs
- ``retail_lift.quality.cli``      the ``retail-lift check`` command

    from retail_lift.quality import run_checkpoint
    result = run_checkpoint("warehouse/retail_lift.duckdb", "warehouse/raw", "reports/quality")
    result.raise_for_errors()
"""

from retail_lift.quality.checks import ERROR, WARNING
from retail_lift.quality.runner import CheckResult, QualityError, QualityResult, TableReport, run_checkpoint

__all__ = ["ERROR", "WARNING", "CheckResult", "QualityError", "QualityResult", "TableReport", "run_checkpoint"]
