"""``retail-lift docs-assets``: the charts and model cards of the dbt docs site, from the built warehouse.

Register it on the main group with ``main.add_command(docs_assets_command)``. Run it after ``dbt build`` and
before ``dbt docs generate`` (``make docs`` does both)::

    retail-lift docs-assets --warehouse warehouse/retail_lift.duckdb
    RETAIL_LIFT_MODEL_CARDS_DIR=target/model_cards dbt docs generate --static

The charts go to ``--out`` (default ``docs/assets/charts``, under the docs site's asset path ``docs/assets``,
gitignored); the model cards to ``--cards-out`` (default ``$RETAIL_LIFT_MODEL_CARDS_DIR/_model_cards.md``, else
``target/model_cards/_model_cards.md``), the folder ``dbt_project.yml`` reads them from when
``RETAIL_LIFT_MODEL_CARDS_DIR`` is set. A chart whose tables are missing or empty is skipped with its reason;
the command fails only when the warehouse file does not exist.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click


def _default_cards_path() -> Path:
    folder = os.environ.get("RETAIL_LIFT_MODEL_CARDS_DIR")
    return Path(folder) / "_model_cards.md" if folder else Path("target/model_cards/_model_cards.md")


@click.command("docs-assets")
@click.option("--warehouse", type=click.Path(path_type=Path), envvar="RETAIL_LIFT_WAREHOUSE",
              default=Path("warehouse/retail_lift.duckdb"), show_default=True,
              help="The DuckDB warehouse file (RETAIL_LIFT_WAREHOUSE); opened read-only, briefly.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("docs/assets/charts"), show_default=True, help="Folder of the chart PNGs.")
@click.option("--cards-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The model cards' docs-block file [default: $RETAIL_LIFT_MODEL_CARDS_DIR/_model_cards.md, "
                   "else target/model_cards/_model_cards.md].")
@click.option("--placeholders", is_flag=True,
              help="Only rewrite the committed placeholder cards (after adding a Python model) and exit.")
def docs_assets_command(warehouse, out_dir, cards_out, placeholders):
    """Draw the docs site's charts and write the model cards from the built warehouse."""
    from retail_lift.reports.charts import build_charts
    from retail_lift.reports.model_cards import write_model_cards, write_placeholder_cards

    if placeholders:
        click.echo(f"wrote {write_placeholder_cards()}")
        return
    if not Path(warehouse).exists():
        raise click.ClickException(f"no warehouse at {warehouse}: build it first (make build, or dbt build)")
    started = time.perf_counter()
    charts = build_charts(warehouse, out_dir, log=click.echo)
    drawn = {c.name for c in charts if c.written}
    cards_path = write_model_cards(warehouse, cards_out or _default_cards_path(), chart_names=drawn)
    click.echo(f"model cards: wrote {cards_path}")
    skipped = [c.name for c in charts if not c.written]
    click.echo(f"docs assets: {len(drawn)} charts in {out_dir}" + (f" ({len(skipped)} skipped: "
               f"{', '.join(skipped)})" if skipped else "") + f", cards in {cards_path} "
               f"({time.perf_counter() - started:.1f} s)")
