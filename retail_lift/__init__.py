"""Retail Lift: the Python layer of a warehouse-native promotion system.

One module (or sub-package) per family:

- ``retail_lift.world``        the simulated retail world with known ground truth (data generation)
- ``retail_lift.contract``     the raw-data contract: tables, columns, types
- ``retail_lift.adapters``     bring-your-own-data: folder preparation, RetailRocket adapter
- ``retail_lift.validation``   input checks shared by every estimator
- ``retail_lift.experiments``  A/B test statistics (frequentist, Bayesian, sequential, SRM, CUPED)
- ``retail_lift.uplift``       S/T/X-learners and Qini / AUUC metrics
- ``retail_lift.bandit``       contextual-bandit policies and off-policy evaluation
- ``retail_lift.clv``          BG/NBD and Gamma-Gamma lifetime value
"""

__version__ = "0.1.0"
