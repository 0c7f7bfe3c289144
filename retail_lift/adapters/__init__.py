"""Bring your own data: land a folder of raw tables for the dbt sources, and format adapters."""

from retail_lift.adapters.ga4 import load_ga4
from retail_lift.adapters.prepare import RawDataError, prepare_raw
from retail_lift.adapters.retailrocket import convert_retailrocket
from retail_lift.adapters.segment import load_segment
from retail_lift.adapters.snowplow import load_snowplow

__all__ = ["RawDataError", "prepare_raw", "convert_retailrocket", "load_ga4", "load_snowplow", "load_segment"]
