"""Retail Lift: the Python layer of a warehouse-native promotion system.

One module (or sub-package) per family:

- ``retail_lift.world``        the simulated retail world with known ground truth (data generation)
- ``retail_lift.contract``     the raw-data contract: tables, columns, types
- ``retail_lift.adapters``     bring-your-own-data: folder preparation, RetailRocket adapter
- ``retail_lift.validation``   input checks shared by every estimator
- ``retail_lift.experiments``  A/B test statistics (frequentist, Bayesian, sequential, SRM, CUPED)
- ``retail_lift.uplift``       S/T/X-learners and Qini / AUUC metrics
- ``retail_lift.bandit``       contextual-bandit policies and off-policy evaluation
- ``retail_lift.clv``          BG/NBD and Gamma-Gamma lifetime value (maximum likelihood, statuses, bootstrap)
- ``retail_lift.predict``      propensity / returning / channel classifiers, their metrics, fairness
- ``retail_lift.segments``     KMeans customer segments named from their centroids
- ``retail_lift.crosssell``    item-to-item association rules and top-N recommendations
- ``retail_lift.campaign``     target lists, personalised discounts, send time, fatigue, ROI
- ``retail_lift.quality``      Great Expectations suites and checkpoint over the warehouse
- ``retail_lift.tables``       one (relations, config) -> table function per dbt Python model, typed configs
- ``retail_lift.frames``       fixed schemas, deterministic row order and the dbt log, for tables and evaluation
- ``retail_lift.evaluation``   the only package that reads the simulated truth or ``retail_lift.world``:
                               the evaluation models' functions, the closed-loop bandit simulation
- ``retail_lift.warehouse``    safe access to the DuckDB file (lock check, read-only readers)
"""

__version__ = "0.1.0"
