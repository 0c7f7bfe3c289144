"""Reports produced after a build: charts for the dbt docs site and the model cards of the Python models.

* :mod:`retail_lift.reports.charts`: one function per chart (funnel, cohort heatmap, RFM segments,
  calibration, Qini curves, bandit arm mix, A/B lift intervals), each reading the warehouse through a short
  read-only connection and writing a PNG (default ``docs/assets/charts/``, under the docs site's asset path);
* :mod:`retail_lift.reports.model_cards`: one ``{% docs model_card_<model> %}`` block per dbt Python model,
  filled with the numbers of its metrics tables.

``retail-lift docs-assets`` runs both (:mod:`retail_lift.reports.cli`). The package imports nothing itself,
so that registering the command does not load matplotlib for every ``retail-lift`` call.
"""
