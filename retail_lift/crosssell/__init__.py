"""Cross-sell: association rules, recommendations and their time-holdout evaluation (algorithms only).

- ``rules.py``  :func:`association_rules` (pairwise rules from baskets), :func:`recommend` (top-N per
  customer), :func:`time_holdout` and :func:`evaluate_recommendations` (precision, recall, hit rate at N);
- ``coded.py``  the same on integer-coded ids for millions of order lines: :func:`coded_lines` and
  :func:`id_codes` (ids as codes that sort like the ids), :func:`mine_rules` (rules with a minimum pair
  count), :func:`popularity_recommendations` (the baseline, in customer blocks), :func:`decode`.

The warehouse tables (``ml_crosssell_*``) are built by :mod:`retail_lift.tables.crosssell`.
"""

from retail_lift.crosssell.coded import (
    ITEM_LEVELS,
    POPULARITY_BLOCK_ROWS,
    coded_lines,
    decode,
    id_codes,
    level_item_column,
    mine_rules,
    popularity_recommendations,
    present,
    support_threshold,
)
from retail_lift.crosssell.rules import (
    MAX_VOTES,
    RULE_COLUMNS,
    association_rules,
    evaluate_recommendations,
    recommend,
    time_holdout,
)

__all__ = [
    "ITEM_LEVELS",
    "MAX_VOTES",
    "POPULARITY_BLOCK_ROWS",
    "RULE_COLUMNS",
    "association_rules",
    "coded_lines",
    "decode",
    "evaluate_recommendations",
    "id_codes",
    "level_item_column",
    "mine_rules",
    "popularity_recommendations",
    "present",
    "recommend",
    "support_threshold",
    "time_holdout",
]
