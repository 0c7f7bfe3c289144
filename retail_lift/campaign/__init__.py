"""Campaign planning: who to contact, with which discount, when, and whether it pays.

One module per concern, all pure functions on pandas DataFrames (dbt Python models wrap them):

- ``targeting.py``  :func:`build_target_list` (expected revenue, cost, profit and ROI per customer;
  selection by budget or top-K), :func:`expected_economics`, :func:`export_target_list` (CSV);
- ``discounts.py``  :func:`estimate_price_sensitivity` (from the discount history),
  :func:`personalised_discount` (a monotone map to discount levels) and :func:`discount_levels` (the
  levels around a promotion's rate);
- ``send_time.py``  :func:`best_send_time` (most active weekday and hour, shrunk to the global peak);
- ``fatigue.py``    :func:`fatigue_flags` (recent exposures, falling response) and :func:`fatigue_curve`;
- ``roi.py``        :func:`compare_broadcast_targeted` (expected and realised economics per strategy);
- ``allocation.py`` :func:`~retail_lift.campaign.allocation.allocate` (at most one promotion per customer under a
  budget, capacities and channel limits: exact MILP or rounded LP, the LP solved by decomposition on its coupling
  constraints at scale, with its optimality gap) and the greedy ratio rule it is compared with;
- ``reasons.py``    per-customer feature contributions of the uplift learners and the classifiers
  (:func:`~retail_lift.campaign.reasons.learner_contributions`,
  :func:`~retail_lift.campaign.reasons.model_contributions`) and the strongest of them as text
  (:func:`~retail_lift.campaign.reasons.top_reasons`); on the registered uplift champion:
  :func:`retail_lift.uplift.champion.uplift_contributions`.

Customer segments are in :mod:`retail_lift.segments`, cross-sell rules and recommendations in
:mod:`retail_lift.crosssell`; the warehouse tables (``ml_campaign_*``) are built by
:mod:`retail_lift.tables.campaign`.
"""

from retail_lift.campaign.discounts import (
    DEFAULT_LEVELS,
    discount_levels,
    estimate_price_sensitivity,
    personalised_discount,
)
from retail_lift.campaign.fatigue import fatigue_curve, fatigue_flags
from retail_lift.campaign.roi import compare_broadcast_targeted
from retail_lift.campaign.send_time import best_send_time
from retail_lift.campaign.targeting import (
    TARGET_LIST_COLUMNS,
    build_target_list,
    expected_economics,
    export_target_list,
)

__all__ = [
    "DEFAULT_LEVELS",
    "TARGET_LIST_COLUMNS",
    "best_send_time",
    "build_target_list",
    "compare_broadcast_targeted",
    "discount_levels",
    "estimate_price_sensitivity",
    "expected_economics",
    "export_target_list",
    "fatigue_curve",
    "fatigue_flags",
    "personalised_discount",
]
