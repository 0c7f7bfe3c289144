"""Bring your own data: land a folder of raw tables for the dbt sources, and format adapters."""

from retail_lift.adapters.prepare import RawDataError, prepare_raw
from retail_lift.adapters.retailrocket import convert_retailrocket

__all__ = ["RawDataError", "prepare_raw", "convert_retailrocket"]
