"""Columns computed in pandas on each batch, for rules that are easier to state on parsed values.

Events carry any event names: :func:`event_columns` maps each name to its role with the seed
``event_roles`` (as staging does), so that only product events need a product_id.

The decision log stores the logging policy's ``action_probabilities`` and its ``context`` as JSON
text. Off-policy evaluation divides by these probabilities, so each decision's probabilities must
parse, lie in [0, 1], sum to 1, and give the chosen arm the logged ``propensity``.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from retail_lift.contract import PRODUCT_ROLES, event_roles

#: Tolerance on the sum of a decision's action probabilities and on propensity = p(chosen arm).
#: Probabilities are logged rounded (the simulated world rounds to 6 decimals over 7 arms).
PROBABILITY_TOLERANCE = 1e-3

DECISION_COLUMNS = (
    "action_probabilities_sum",
    "action_probabilities_problem",
    "propensity_minus_chosen_arm_probability",
    "context_problem",
)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _parse_probabilities(text, chosen) -> tuple[float | None, str | None, float | None]:
    """(sum, problem, p(chosen arm)) of one action_probabilities JSON text."""
    if _missing(text):
        return None, None, None  # missing: the not-null check reports it
    chosen = None if _missing(chosen) else chosen
    try:
        probs = json.loads(text)
    except (TypeError, ValueError):
        return None, f"not JSON: {str(text)[:60]}", None
    if not isinstance(probs, dict) or not probs:
        return None, f"not a JSON object of arm -> probability: {str(text)[:60]}", None
    values = list(probs.values())
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None, f"a probability is not a number: {str(text)[:60]}", None
    if any(v < 0 or v > 1 for v in values):
        return float(sum(values)), f"a probability outside [0, 1]: {str(text)[:60]}", None
    if chosen is not None and chosen not in probs:
        return float(sum(values)), f"chosen arm {chosen!r} has no probability", None
    return float(sum(values)), None, (float(probs[chosen]) if chosen is not None else None)


def _context_problem(text) -> str | None:
    if _missing(text):
        return None
    try:
        ctx = json.loads(text)
    except (TypeError, ValueError):
        return f"not JSON: {str(text)[:60]}"
    return None if isinstance(ctx, dict) else f"not a JSON object: {str(text)[:60]}"


def decision_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add the parsed-JSON columns of the decision log to a batch of decisions."""
    parsed = [_parse_probabilities(t, c) for t, c in zip(df["action_probabilities"], df["promotion_id"], strict=True)]
    out = df.copy()
    out["action_probabilities_sum"] = pd.Series([p[0] for p in parsed], index=df.index, dtype="float64")
    out["action_probabilities_problem"] = pd.Series([p[1] for p in parsed], index=df.index, dtype="object")
    chosen = pd.Series([p[2] for p in parsed], index=df.index, dtype="float64")
    out["propensity_minus_chosen_arm_probability"] = pd.to_numeric(df["propensity"], errors="coerce") - chosen
    out["context_problem"] = pd.Series([_context_problem(t) for t in df["context"]], index=df.index, dtype="object")
    return out


#: columns :func:`event_columns` adds to a batch of raw events
EVENT_COLUMNS = ("event_role", "product_id_required", "unknown_event_name")


def event_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add the role of each event (seed event_roles on the lower-cased, trimmed name; ``other`` for a name
    the seed does not know; missing for a missing name), whether it needs a product_id ("yes"/"no"), and
    the name when the seed does not know it (``unknown_event_name``, else missing)."""
    names = df["event_type"].astype("string").str.strip().str.lower()
    names = names.mask(names == "")
    roles = names.map(event_roles()).astype("object")
    roles = roles.where(names.isna() | roles.notna(), "other")
    out = df.copy()
    out["event_role"] = roles.where(names.notna(), None)
    known = names.isin(list(event_roles()))
    out["unknown_event_name"] = names.astype("object").where(names.notna() & ~known, None)
    out["product_id_required"] = pd.Series(["yes" if r in PRODUCT_ROLES else "no" for r in out["event_role"]],
                                           index=df.index, dtype="object")
    return out


#: columns :func:`clv_columns` adds to a batch of the CLV table
CLV_COLUMNS = ("purchase_model_status",)


def clv_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add the purchase model's part of ``clv_status`` (``ml.ml_customer_lifetime_value``): ``"ok"`` when the
    status reads ``purchase model: ok...`` (fitted and used, with or without notes), ``"not estimable"``
    for any other purchase-model status (the reason follows in the text; expected purchases and P(alive)
    are then NULL), missing when the status is missing. ``retail_lift.clv.lifetime_value_table`` writes the
    status as ``"purchase model: <ok or the reason>; spend model: ...; margin: ..."``."""
    status = df["clv_status"].astype("string")
    ok = status.str.match(r"purchase model: ok(?:[ ;]|$)")
    out = df.copy()
    out["purchase_model_status"] = pd.Series(
        ["ok" if o else "not estimable" for o in ok.fillna(False)], index=df.index, dtype="object").where(
        status.notna().to_numpy(), None)
    return out
