"""The simulated retail world: raw tables plus the ground truth that produced them.

The world is a set of latent per-customer parameters and a few stochastic processes:

* **Visits.** Each visitor has a session rate (sessions per active day, gamma distributed, so
  many visitors come once and a few come often). Sessions fall on days weighted by weekday
  (a Saturday dip) and on hours weighted by an evening / late-night profile. A session is a
  run of product views a minute or two apart; sessions are far more than 30 minutes apart
  unless two happen to overlap.
* **Purchases online.** A registered customer's session converts with probability ``c`` (a
  customer parameter); a converting session adds one viewed product to the cart and buys it,
  either in the same session or hours to days later (delayed feedback). Other sessions add a
  product to the cart and abandon it with a small probability. The rates match the
  RetailRocket log: about 2.5 % of views reach the cart and about a third of carts are bought.
  Converting sessions form a Poisson process, so the organic online order rate is exactly
  ``session_rate * c`` per active day.
* **Purchases in store.** A Poisson process with the customer's store rate, at opening hours.
* **Churn.** Activity stops at ``active_until`` (exponential lifetime).
* **Promotions.** Each exposure (an experiment assignment or a policy decision) to arm ``a``
  either adds a promotion-driven order within the attribution window with probability
  ``e_a(x) > 0`` or, for do-not-disturb customers, suppresses all organic orders in the window
  with probability ``r_a(x)``. With ``p0`` the probability of an organic order in the window,
  the true conversion probability is ``1 - (1 - p0)(1 - e)`` or ``p0 (1 - r)``; the generator
  writes it per customer x arm and per exposure x arm into the truth folder.

Everything is vectorised with NumPy and drawn from one ``numpy.random.Generator`` seeded by the
caller, so a seed gives byte-identical Parquet files.

**Bounded memory.** The random stream runs over all customers at once (each step draws its variates
for every customer, then the next step's), so the steps keep only numbers in memory: the large text
columns (identifiers repeated per event, order line, exposure and arm) are kept as :class:`_Take`
(an index into the distinct values) and turned into text ``chunk_rows`` rows at a time when written;
each table is written as soon as its step has made it (:func:`generate_world` passes a writer), and
the web sessions are released once the events are made. Parquet row groups stay 1,000,000 rows
whatever the chunk size, so the files are byte-identical for every ``chunk_rows``
(docs/simulated-world.md, "Memory").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from retail_lift import contract
from retail_lift.contract import TABLES, TRUTH_TABLES
from retail_lift.experiments.registry import OVERRIDE_COLUMNS
from retail_lift.world.presets import Preset, get_preset

PERIOD_START = np.datetime64("2026-01-05T00:00:00", "s")  # a Monday
DAY = 86_400
HOUR = 3_600

AGE_BANDS = np.array(contract.AGE_BANDS)
AGE_P = np.array([0.14, 0.24, 0.22, 0.18, 0.13, 0.09])
GENDERS = np.array(contract.GENDERS)
GENDER_P = np.array([0.52, 0.46, 0.02])
REGIONS = np.array(["north", "south", "east", "west", "central", "coast"])
REGION_P = np.array([0.18, 0.2, 0.15, 0.17, 0.2, 0.1])
DEVICES = np.array(contract.DEVICES)
CHANNELS = np.array(contract.ACQUISITION_CHANNELS)
FIRST_NAMES = np.array(["Anna", "Ben", "Chloe", "David", "Ella", "Finn", "Grace", "Hugo", "Iris", "Jonas",
                        "Kira", "Leo", "Mia", "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Umar"])
LAST_NAMES = np.array(["Smith", "Meyer", "Garcia", "Rossi", "Novak", "Jensen", "Kowalski", "Dubois",
                       "Silva", "Nowak", "Berg", "Costa", "Horvat", "Murphy", "Lind", "Weber"])
TOP_CATEGORIES = ["grocery", "fresh", "household", "beauty", "electronics", "home", "fashion", "toys"]

# Mon..Sun: stable weekdays, a Saturday dip, a slight Sunday recovery (as in the RetailRocket log)
WEB_WEEKDAY_W = np.array([1.0, 1.02, 1.0, 0.98, 0.94, 0.7, 0.86])
STORE_WEEKDAY_W = np.array([0.85, 0.85, 0.9, 0.95, 1.15, 1.4, 0.6])
# hour of day: peaks 17-22 and 0-3, trough 7-11
WEB_HOUR_W = np.array([1.25, 1.2, 1.05, 0.9, 0.6, 0.4, 0.3, 0.22, 0.2, 0.22, 0.28, 0.38,
                       0.5, 0.55, 0.6, 0.7, 0.85, 1.1, 1.35, 1.5, 1.55, 1.5, 1.45, 1.35])

ATTRIBUTION_DAYS = 14

# promotion catalogue: id, name, channel, discount_rate, contact_cost, launch offset (days before end; None = always)
PROMOTIONS = [
    ("control", "No promotion", "none", 0.0, 0.0, None),
    ("email_no_discount", "E-mail, no discount", "email", 0.0, 0.05, None),
    ("email_10pct", "E-mail with 10% off", "email", 0.10, 0.05, None),
    ("banner_limited_time", "Limited-time banner, 15% off", "banner", 0.15, 0.01, None),
    ("popup_cart_reminder", "Cart reminder pop-up", "popup", 0.0, 0.01, None),
    ("bogo", "Buy one get one free", "email", 0.25, 0.05, None),
    ("free_shipping", "Free shipping (new offer)", "banner", 0.05, 0.01, 20),
]
ARM_IDS = [p[0] for p in PROMOTIONS]
ARM_DISCOUNT = np.array([p[3] for p in PROMOTIONS])
# promotion-driven conversion probability for a persuadable customer of average price sensitivity
PERSUADABLE_BASE = np.array([0.0, 0.05, 0.07, 0.07, 0.05, 0.07, 0.07])
IS_DISCOUNT_ARM = ARM_DISCOUNT > 0
# probability that an exposure suppresses a do-not-disturb customer's organic orders in the window
DND_SUPPRESS = np.array([0.0, 0.45, 0.35, 0.15, 0.4, 0.3, 0.1])
UPLIFT_TYPES = np.array(contract.UPLIFT_TYPES)

EXPERIMENTS = [
    # id, name, variants, share of customers, start (days before end), lost treatment logs (SRM bug)
    ("exp_email_offer", "E-mail offer test", ["control", "email_no_discount", "email_10pct"], 0.35, 80, 0.0),
    ("exp_banner_bogo", "Banner versus BOGO", ["control", "banner_limited_time", "bogo"], 0.35, 62, 0.0),
    ("exp_cart_popup", "Cart reminder pop-up (logging bug)", ["control", "popup_cart_reminder"], 0.10, 55, 0.15),
]
EXPERIMENT_ASSIGN_DAYS = 14
# The decision log (sized by the preset): the customers in the decision programme (DECISION_SHARE of
# the customers, drawn once) get a policy decision every ``decision_cadence_days`` days during the
# ``decision_days`` days that end DECISION_END_DAYS days before the end of data, each at a
# customer-specific phase (a day within the first cadence) and a fresh hour between 08:00 and 22:00.
# Consecutive decisions of one customer are then at least the cadence minus 14 hours apart: with a
# cadence of 15 days their attribution windows (ATTRIBUTION_DAYS) never overlap. A cadence of at
# least ``decision_days`` gives each member one decision, uniform over the period. With
# ``decisions_skip_experiment_windows`` a decision is left out when its attribution window would
# overlap the customer's experiment window (the programme pauses for experiment participants, so
# neither contaminates the other's outcome).
DECISION_END_DAYS = 2
DECISION_SHARE = 0.9
# truth_customer_arms: each customer's true response at this many days before the end of data
# (the start of the 40-day decision log of the tiny and large presets)
TRUTH_REFERENCE_DAYS = 42
LOGGING_POLICY_ID = "rules_eps30_v1"
LOGGING_EPSILON = 0.3


def _ts(seconds: np.ndarray) -> np.ndarray:
    """Seconds since PERIOD_START -> datetime64[us]."""
    return (PERIOD_START + np.asarray(seconds).astype("int64").astype("timedelta64[s]")).astype("datetime64[us]")


def _ids(prefix: str, idx: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.asarray(idx).astype(str), width))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class _World:
    """Holds the state while the world is generated; one method per step."""

    def __init__(self, preset: Preset, seed: int, sink: Callable[[str, str, dict], int] | None = None):
        self.p = preset
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.end_s = preset.days * DAY
        #: the tables a step made (kept in memory when there is no sink; else written and dropped)
        self.tables: dict[str, dict[str, np.ndarray]] = {}
        self.truth: dict[str, dict[str, np.ndarray]] = {}
        #: ``sink(group, name, columns)`` writes a finished table (group ``raw`` or ``truth``) and
        #: returns its row count; ``generate_world`` passes one so that no table outlives its step
        self.sink = sink
        self.row_counts: dict[str, int] = {}

    def _emit(self, group: str, name: str, columns: dict) -> None:
        if self.sink is None:
            (self.tables if group == "raw" else self.truth)[name] = columns
            self.row_counts[name] = len(next(iter(columns.values())))
        else:
            self.row_counts[name] = self.sink(group, name, columns)

    # ------------------------------------------------------------------ catalogue
    def catalogue(self):
        rng, p = self.rng, self.p
        n_top = len(TOP_CATEGORIES)
        subs_per_top = rng.integers(3, 7, n_top)
        n_leaf = int(subs_per_top.sum())
        leaf_parent = np.repeat(np.arange(n_top), subs_per_top)
        top_ids = np.array([f"cat_{t}" for t in TOP_CATEGORIES])
        leaf_ids = np.array([f"cat_{TOP_CATEGORIES[t]}_{i + 1}" for t, i in
                             zip(leaf_parent, np.concatenate([np.arange(k) for k in subs_per_top]), strict=True)])
        self._emit("raw", "categories", {
            "category_id": np.concatenate([top_ids, leaf_ids]),
            "parent_category_id": np.concatenate([np.full(n_top, None, dtype=object), top_ids[leaf_parent]]),
            "category_name": np.concatenate([np.array([t.title() for t in TOP_CATEGORIES]),
                                             np.char.replace(np.char.replace(leaf_ids, "cat_", ""), "_", " ")]),
        })
        # products: leaf category by popularity, log-normal prices by top category
        leaf_pop = rng.dirichlet(np.full(n_leaf, 2.0))
        prod_leaf = np.sort(rng.choice(n_leaf, size=p.n_products, p=leaf_pop))
        # make sure every leaf has at least one product
        prod_leaf[: n_leaf] = np.arange(n_leaf)
        prod_leaf = np.sort(prod_leaf)
        top_price = np.exp(rng.normal(np.log(12), 0.8, n_top))
        price = np.round(np.exp(rng.normal(np.log(top_price[leaf_parent[prod_leaf]]), 0.5)), 2).clip(0.5, 2000)
        margin = rng.uniform(0.15, 0.55, p.n_products)
        # rank within leaf for Zipf popularity: rank 0 is the bestseller, always launched before the start
        starts = np.searchsorted(prod_leaf, np.arange(n_leaf))
        counts = np.bincount(prod_leaf, minlength=n_leaf)
        rank = np.arange(p.n_products) - starts[prod_leaf]
        perm_rank = np.empty(p.n_products, dtype=int)
        for leaf in range(n_leaf):  # shuffle ranks within leaf (few dozen leaves)
            s, c = starts[leaf], counts[leaf]
            perm_rank[s:s + c] = rng.permutation(c)
        rank = perm_rank
        launched = rng.uniform(-3 * 365, -30, p.n_products) * DAY
        is_new = (rng.random(p.n_products) < 0.12) & (rank > 0)
        launched[is_new] = rng.uniform(0, self.end_s - 7 * DAY, is_new.sum())
        weight = 1.0 / (rank + 1.0) ** 0.9
        weight[is_new] *= 3.0  # new products get a launch push once they exist
        # cumulative weights per leaf, offset by leaf index so one searchsorted serves all leaves
        cdf = np.empty(p.n_products)
        for leaf in range(n_leaf):
            s, c = starts[leaf], counts[leaf]
            w = weight[s:s + c]
            cdf[s:s + c] = leaf + np.cumsum(w) / w.sum()
        cdf[starts + counts - 1] = np.arange(n_leaf) + 1.0
        self.leaf_cdf = cdf
        self.leaf_starts = starts
        self.leaf_best = starts + np.array([np.argmin(rank[s:s + c]) for s, c in zip(starts, counts, strict=True)])
        self.n_leaf = n_leaf
        self.leaf_pop = leaf_pop
        self.prod_price = price
        self.prod_launched = launched
        self.prod_leaf = prod_leaf
        # zipf-weighted mean price per leaf (for the expected order value in the truth)
        self.leaf_mean_price = np.bincount(prod_leaf, weights=weight * price, minlength=n_leaf) / np.bincount(
            prod_leaf, weights=weight, minlength=n_leaf)
        self.product_ids = _ids("P", np.arange(p.n_products), 6)
        self._emit("raw", "products", {
            "product_id": self.product_ids,
            "category_id": leaf_ids[prod_leaf],
            "product_name": np.char.add(np.char.add(np.array(TOP_CATEGORIES)[leaf_parent[prod_leaf]], " item "),
                                        np.arange(p.n_products).astype(str)),
            "price": price,
            "unit_cost": np.round(price * (1 - margin), 2),
            "launched_at": _ts(launched),
        })
        n_st = p.n_stores
        self.store_region = np.concatenate([np.arange(len(REGIONS)), rng.choice(len(REGIONS), n_st - len(REGIONS),
                                                                                 p=REGION_P)])[:n_st] \
            if n_st >= len(REGIONS) else rng.choice(len(REGIONS), n_st, p=REGION_P)
        self.store_ids = _ids("S", np.arange(n_st), 3)
        self._emit("raw", "stores", {
            "store_id": self.store_ids,
            "store_name": np.char.add(np.char.add(np.char.capitalize(REGIONS[self.store_region]), " store "),
                                      np.arange(n_st).astype(str)),
            "region": REGIONS[self.store_region],
            "opened_at": _ts(rng.uniform(-10 * 365, -365, n_st) * DAY),
        })
        launch = np.array([np.nan if p_[5] is None else float(self.end_s - p_[5] * DAY) for p_ in PROMOTIONS])
        self.arm_launch = np.where(np.isnan(launch), -np.inf, launch)
        self._emit("raw", "promotions", {
            "promotion_id": np.array(ARM_IDS),
            "promotion_name": np.array([p_[1] for p_ in PROMOTIONS]),
            "channel": np.array([p_[2] for p_ in PROMOTIONS]),
            "discount_rate": ARM_DISCOUNT,
            "contact_cost": np.array([p_[4] for p_ in PROMOTIONS]),
            "launched_at": np.where(np.isnan(launch), _ts(np.full(len(PROMOTIONS), -400 * DAY)),
                                    _ts(np.nan_to_num(launch))),
        })

    # ------------------------------------------------------------------ people
    def people(self):
        rng, p = self.rng, self.p
        nc = p.n_customers
        nv = int(round(nc * p.visitor_ratio))
        self.nc, self.nv = nc, nv
        age = rng.choice(len(AGE_BANDS), nv, p=AGE_P)
        gender = rng.choice(len(GENDERS), nv, p=GENDER_P)
        region = rng.choice(len(REGIONS), nv, p=REGION_P)
        young = age <= 1
        old = age >= 4
        dev_logits = np.stack([np.zeros(nv), 0.4 + 1.0 * young - 0.8 * old, -1.4 + 0.6 * old], axis=1)
        device = _categorical(rng, dev_logits)
        ch_logits = np.stack([
            0.2 + 0.9 * (age == 1) + 0.7 * (age == 2) + 0.6 * (device == 1) - 0.8 * old,  # facebook
            0.5 + 0.3 * (device == 0),  # organic search
            -0.3 + 0.9 * old,  # store
            -0.6 + 0.5 * (age >= 3),  # email
            -0.9 + 0.4 * young,  # referral
        ], axis=1)
        channel = _categorical(rng, ch_logits)
        follows = rng.random(nv) < np.where(channel == 0, 0.62, 0.14)
        heard = rng.random(nv) < np.where(channel == 0, 0.22, np.where(channel == 2, 0.8, 0.48))
        # latent parameters
        engagement = rng.gamma(0.7, 1 / 0.7, nv)
        z_eng = np.log(engagement + 1e-3)
        price_sens = _sigmoid(0.9 * young - 0.9 * old + 0.5 * (gender == 0) + rng.normal(0, 0.2, nv))
        is_customer = np.arange(nv) < nc
        base_rate = 0.054 * p.session_scale
        session_rate = base_rate * engagement * np.where(is_customer, 1.0, 0.55) * np.where(follows, 1.3, 1.0)
        conv = _sigmoid(-3.1 + 0.35 * z_eng + 0.3 * (channel == 3) + 0.25 * heard + 0.2 * (age == 2)
                        - 0.2 * young + rng.normal(0, 0.3, nv))
        conv = np.where(is_customer, conv, 0.0)
        store_rate = np.where(is_customer, 0.010 * engagement * np.where(channel == 2, 2.2, 1.0)
                              * np.where(old, 1.4, 1.0), 0.0)
        # registration and activity window (seconds since start)
        signup = np.where(rng.random(nv) < 0.7, rng.uniform(-2 * 365 * DAY, 0, nv),
                          rng.uniform(0, self.end_s - 3 * DAY, nv))
        first_seen = np.where(is_customer, np.maximum(signup, 0.0), rng.uniform(-30 * DAY, self.end_s - DAY, nv))
        active_from = np.maximum(first_seen, 0.0)
        lifetime = rng.exponential(420 * DAY, nv)
        active_until = np.maximum(first_seen, 0.0) + lifetime
        pref = rng.choice(self.n_leaf, nv, p=self.leaf_pop)
        pref2 = rng.choice(self.n_leaf, nv, p=self.leaf_pop)
        # uplift type, mostly decided by observable traits so that uplift models can find it
        type_logits = 2.0 * np.stack([
            -0.2 + 2.2 * (price_sens - 0.5) + 0.9 * follows + 0.6 * (device == 1),  # persuadable
            -1.2 + 1.3 * z_eng + 0.8 * heard,  # sure thing
            0.2 - 0.6 * follows,  # lost cause
            -1.6 + 1.8 * old + 0.9 * (~heard) - 0.8 * follows,  # do not disturb
        ], axis=1)
        utype = _categorical(rng, type_logits)
        self.v = dict(age=age, gender=gender, region=region, device=device, channel=channel, follows=follows,
                      heard=heard, engagement=engagement, price_sens=price_sens, session_rate=session_rate,
                      conv=conv, store_rate=store_rate, active_from=active_from, active_until=active_until,
                      pref=pref, pref2=pref2, utype=utype, is_customer=is_customer, signup=signup)
        self.visitor_ids = _ids("V", np.arange(nv), 7)
        self.customer_ids = _ids("C", np.arange(nc), 7)
        first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), nc)]
        last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), nc)]
        c = slice(0, nc)
        home_store = np.empty(nv, dtype=int)
        for r in range(len(REGIONS)):
            in_region = np.flatnonzero(self.store_region == r)
            pool = in_region if in_region.size else np.arange(len(self.store_ids))
            mask = region == r
            home_store[mask] = rng.choice(pool, mask.sum())
        self.home_store = home_store
        self._emit("raw", "customers", {
            "customer_id": self.customer_ids,
            "visitor_id": self.visitor_ids[c],
            "signed_up_at": _ts(signup[c]),
            "age_band": AGE_BANDS[age[c]],
            "gender": GENDERS[gender[c]],
            "region": REGIONS[region[c]],
            "acquisition_channel": CHANNELS[channel[c]],
            "follows_page": follows[c],
            "heard_of_shop": heard[c],
            "device_preference": DEVICES[device[c]],
            "email": np.char.add(np.char.add(np.char.lower(first), "."), np.char.add(
                np.char.add(np.char.lower(last), np.arange(nc).astype(str)), "@example.com")),
            "full_name": np.char.add(np.char.add(first, " "), last),
        })

    # ------------------------------------------------------------------ web sessions and online orders
    def sessions(self):
        rng, v = self.rng, self.v
        lo = np.clip(v["active_from"], 0, self.end_s)
        hi = np.clip(v["active_until"], 0, self.end_s)
        span_days = np.maximum(hi - lo, 0) / DAY
        n_sess = rng.poisson(v["session_rate"] * span_days)
        sv = np.repeat(np.arange(self.nv), n_sess)
        start = _weighted_times(rng, lo[sv], hi[sv], WEB_WEEKDAY_W, WEB_HOUR_W)
        ns = sv.size
        device = np.where(rng.random(ns) < 0.8, v["device"][sv], rng.integers(0, 3, ns))
        n_views = np.minimum(rng.geometric(0.22, ns), 40)
        converts = rng.random(ns) < v["conv"][sv]
        abandons = (~converts) & (rng.random(ns) < 0.085)
        # views
        ev_sess = np.repeat(np.arange(ns), n_views)
        gaps = np.clip(rng.exponential(75, ev_sess.size), 5, 20 * 60)
        first_of_sess = np.concatenate([[0], np.cumsum(n_views)[:-1]])
        gaps[first_of_sess] = 0.0
        csum = np.cumsum(gaps)
        view_t = start[ev_sess] + csum - np.repeat(csum[first_of_sess], n_views)
        view_prod = self._pick_products(v["pref"][sv][ev_sess], v["pref2"][sv][ev_sess], view_t)
        # carts: one viewed product of converting and abandoning sessions
        carting = np.flatnonzero(converts | abandons)
        k = (rng.random(carting.size) * n_views[carting]).astype(int)
        cart_view = first_of_sess[carting] + k
        cart_t = view_t[cart_view] + 5 + rng.exponential(30, carting.size)
        cart_prod = view_prod[cart_view]
        # purchases: same session, or delayed by hours to days
        buying = converts[carting]
        b_sess = carting[buying]
        same = rng.random(b_sess.size) < 0.55
        delay = np.where(same, 10 + rng.exponential(120, b_sess.size),
                         np.clip(np.exp(rng.normal(np.log(20 * HOUR), 1.0, b_sess.size)), HOUR, 10 * DAY))
        buy_t = cart_t[buying] + delay
        buy_prod = cart_prod[buying]
        keep = buy_t < self.end_s
        self.web = dict(
            view_t=view_t, view_visitor=sv[ev_sess], view_prod=view_prod, view_device=device[ev_sess],
            cart_t=cart_t, cart_visitor=sv[carting], cart_prod=cart_prod, cart_device=device[carting],
            buy_t=buy_t[keep], buy_visitor=sv[b_sess][keep], buy_prod=buy_prod[keep],
            buy_device=device[b_sess][keep], buy_delayed=(~same)[keep],
        )

    def _pick_products(self, pref, pref2, t):
        rng = self.rng
        n = pref.size
        u = rng.random(n)
        leaf = np.where(u < 0.55, pref, np.where(u < 0.75, pref2, rng.choice(self.n_leaf, n, p=self.leaf_pop)))
        prod = np.searchsorted(self.leaf_cdf, leaf + rng.random(n) * 0.999999, side="right")
        prod = np.minimum(prod, self.p.n_products - 1)
        not_yet = self.prod_launched[prod] > t
        prod[not_yet] = self.leaf_best[self.prod_leaf[prod[not_yet]]]
        return prod

    def store_orders(self):
        rng, v = self.rng, self.v
        lo = np.clip(v["active_from"], 0, self.end_s)
        hi = np.clip(v["active_until"], 0, self.end_s)
        n = rng.poisson(v["store_rate"] * np.maximum(hi - lo, 0) / DAY)
        cv = np.repeat(np.arange(self.nv), n)
        hours = np.zeros(24)
        hours[9:20] = [0.6, 0.8, 1.0, 1.2, 1.1, 1.0, 1.0, 1.1, 1.3, 1.2, 0.8]
        t = _weighted_times(rng, lo[cv], hi[cv], STORE_WEEKDAY_W, hours)
        self.store = dict(t=t, visitor=cv)

    # ------------------------------------------------------------------ exposures
    def _p0(self, cust: np.ndarray, t: np.ndarray, window_days: float) -> np.ndarray:
        """Probability of at least one organic order within (t, t + window] (exact for the Poisson processes)."""
        v = self.v
        rate = v["session_rate"][cust] * v["conv"][cust] + v["store_rate"][cust]
        lo = np.maximum(t, v["active_from"][cust])
        hi = np.minimum(t + window_days * DAY, v["active_until"][cust])
        return 1.0 - np.exp(-rate * np.maximum(hi - lo, 0) / DAY)

    def _effects(self, cust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per customer x arm: promotion-driven conversion probability e and suppression probability r.

        A persuadable customer responds to each promotion according to an affinity built from traits
        a policy can observe, so the best promotion differs between customers: e-mails work for
        e-mail-acquired, older customers who know the shop; banners for young mobile visitors;
        the pop-up for mobile users; discounts and BOGO for the price-sensitive; free shipping for
        online-acquired customers. Sure things and lost causes barely respond; do-not-disturbs lose
        their organic orders to e-mails and pop-ups with probability ``r``.
        """
        v = self.v
        utype = v["utype"][cust][:, None]
        s = v["price_sens"][cust]
        age, device, channel = v["age"][cust], v["device"][cust], v["channel"][cust]
        follows, heard = v["follows"][cust].astype(float), v["heard"][cust].astype(float)
        young, old, mobile = (age <= 1).astype(float), (age >= 4).astype(float), (device == 1).astype(float)
        by_email = (channel == 3).astype(float)
        online_acquired = np.isin(channel, (0, 1, 4)).astype(float)
        affinity = np.stack([
            np.zeros_like(s),                                                               # control
            1 + 1.6 * by_email + 0.8 * old + 0.6 * heard - 0.7 * young,                     # email_no_discount
            (0.4 + 1.6 * s) * (1 + 1.2 * by_email + 0.5 * heard - 0.5 * young),            # email_10pct
            (0.4 + 1.2 * s) * (1 + 1.4 * young + 0.8 * mobile - 0.7 * old),                # banner_limited_time
            (0.3 + 1.5 * mobile) * (1 + 0.6 * follows),                                     # popup_cart_reminder
            (0.3 + 1.6 * s) * (1 + 0.8 * np.isin(age, (1, 2))),                             # bogo
            1 + 1.2 * online_acquired - 0.8 * (channel == 2) + 0.5 * mobile,                # free_shipping
        ], axis=1)
        persuaded = PERSUADABLE_BASE[None, :] * np.clip(affinity, 0, None)
        e = np.select([utype == 0, utype == 1, utype == 2], [persuaded, 0.01, 0.004], 0.0)
        e[:, 0] = 0.0
        r = np.where(utype == 3, DND_SUPPRESS[None, :], 0.0)
        return np.clip(e, 0, 0.95), r

    def _true_response(self, cust, t):
        p0 = self._p0(cust, t, ATTRIBUTION_DAYS)[:, None]
        e, r = self._effects(cust)
        p = np.where(r > 0, p0 * (1 - r), 1 - (1 - p0) * (1 - e))
        mov = self._mean_order_value(cust)[:, None]
        revenue = p * mov * (1 - ARM_DISCOUNT[None, :])
        return p, p - p[:, [0]], revenue

    def _mean_order_value(self, cust):
        v = self.v
        line = (0.55 * self.leaf_mean_price[v["pref"][cust]] + 0.2 * self.leaf_mean_price[v["pref2"][cust]]
                + 0.25 * float(np.dot(self.leaf_pop, self.leaf_mean_price))) * 1.25
        on = v["session_rate"][cust] * v["conv"][cust]
        st = v["store_rate"][cust]
        lines = np.where(on + st > 0, (on * 1.0 + st * 2.5) / np.maximum(on + st, 1e-12), 1.0)
        return line * lines

    def experiments(self):
        rng, v = self.rng, self.v
        available = np.arange(self.nc)
        rng.shuffle(available)
        used = 0
        rows = {k: [] for k in ("experiment_id", "customer_id", "variant", "assigned_at")}
        exp_rows = {k: [] for k in TABLES["experiments"].column_names}
        exposures = []  # (kind, id, cust, t, arm)
        for exp_id, name, variants, share, start_back, lost in EXPERIMENTS:
            n = int(share * self.nc)
            pool = available[used:used + n]
            used += n
            start = self.end_s - start_back * DAY
            t = start + rng.uniform(0, EXPERIMENT_ASSIGN_DAYS * DAY, n)
            active = (v["active_from"][pool] <= t) & (v["active_until"][pool] > t)
            pool, t = pool[active], t[active]
            arm_idx = rng.integers(0, len(variants), pool.size)
            arms = np.array([ARM_IDS.index(a) for a in variants])[arm_idx]
            exposures.append(("experiment", np.char.add(exp_id + ":", self.customer_ids[pool]), pool, t, arms))
            logged = np.ones(pool.size, dtype=bool)
            if lost > 0:  # a logging bug drops part of the treatment group: a sample-ratio mismatch
                treated = arm_idx > 0
                logged &= ~(treated & (rng.random(pool.size) < lost))
            rows["experiment_id"].append(np.full(logged.sum(), exp_id))
            rows["customer_id"].append(self.customer_ids[pool[logged]])
            rows["variant"].append(np.array(variants)[arm_idx[logged]])
            rows["assigned_at"].append(_ts(t[logged]))
            exp_rows["experiment_id"].append(exp_id)
            exp_rows["experiment_name"].append(name)
            exp_rows["started_at"].append(_ts(np.array([start]))[0])
            exp_rows["ended_at"].append(_ts(np.array([start + EXPERIMENT_ASSIGN_DAYS * DAY]))[0])
            exp_rows["control_variant"].append("control")
            exp_rows["planned_split"].append(",".join(f"{a}:1" for a in variants))
            exp_rows["attribution_days"].append(ATTRIBUTION_DAYS)
            for col in OVERRIDE_COLUMNS:  # the world declares its experiments in seeds/experiment_registry.csv
                exp_rows[col].append(None)
        self._emit("raw", "experiment_assignments", {k: np.concatenate(x) for k, x in rows.items()})
        self._emit("raw", "experiments", {k: np.array(x) for k, x in exp_rows.items()})
        self.exposures = exposures

    def decisions(self):
        rng, v, p = self.rng, self.v, self.p
        hi_day = p.days - DECISION_END_DAYS
        lo_day = max(hi_day - p.decision_days, 0)
        cadence = min(p.decision_cadence_days, hi_day - lo_day)
        n = int(DECISION_SHARE * self.nc)
        members = rng.choice(self.nc, n, replace=False)
        phase = np.floor(rng.uniform(0, cadence, n))
        rounds = -(-(hi_day - lo_day) // cadence)
        cust = np.repeat(members, rounds)
        day = lo_day + np.repeat(phase, rounds) + np.tile(np.arange(rounds), n) * cadence
        inside = day < hi_day
        cust, day = cust[inside], day[inside]
        n = cust.size
        t = day * DAY + rng.integers(8, 22, n) * HOUR + rng.uniform(0, HOUR, n)
        active = (v["active_from"][cust] <= t) & (v["active_until"][cust] > t)
        if p.decisions_skip_experiment_windows:
            # no decision whose attribution window overlaps the customer's experiment window
            assigned = np.full(self.nc, np.nan)
            for kind, _, e_cust, e_t, _ in self.exposures:
                if kind == "experiment":
                    assigned[e_cust] = e_t
            active &= ~(np.abs(t - assigned[cust]) < ATTRIBUTION_DAYS * DAY)
        cust, t = cust[active], t[active]
        order = np.argsort(t, kind="stable")
        cust, t = cust[order], t[order]
        n = cust.size
        ctx = self._context(cust, t)
        # logging policy: epsilon-greedy around a hand-written rule
        rule = np.where(ctx["age_band"] <= 1, ARM_IDS.index("banner_limited_time"),
                        np.where(ctx["follows_page"] == 1, ARM_IDS.index("email_10pct"),
                                 ARM_IDS.index("email_no_discount")))
        avail = t[:, None] >= self.arm_launch[None, :]
        k = avail.sum(axis=1)
        probs = np.where(avail, LOGGING_EPSILON / k[:, None], 0.0)
        probs[np.arange(n), rule] += 1 - LOGGING_EPSILON
        cum = np.cumsum(probs, axis=1)
        arm = (rng.random(n)[:, None] > cum).sum(axis=1)
        arm = np.minimum(arm, len(ARM_IDS) - 1)
        propensity = probs[np.arange(n), arm]
        decision_ids = _ids("D", np.arange(n), 8)
        self.exposures.append(("decision", decision_ids, cust, t, arm))
        prob_json = [json.dumps({a: round(float(p_), 6) for a, p_, ok in zip(ARM_IDS, row, av, strict=True) if ok},
                                separators=(",", ":")) for row, av in zip(probs, avail, strict=True)]
        ctx_json = _context_json(ctx)
        self._emit("raw", "decisions", {
            "decision_id": decision_ids,
            "customer_id": self.customer_ids[cust],
            "decided_at": _ts(t),
            "policy_id": np.full(n, LOGGING_POLICY_ID),
            "promotion_id": np.array(ARM_IDS)[arm],
            "propensity": np.round(propensity, 6),
            "action_probabilities": np.array(prob_json),
            "context": ctx_json,
        })

    def _context(self, cust, t):
        """What a policy can observe at decision time: traits plus recent behaviour."""
        v = self.v
        order_cust = np.concatenate([self.web["buy_visitor"], self.store["visitor"]])
        order_t = np.concatenate([self.web["buy_t"], self.store["t"]])
        n90 = _count_in_window(order_cust, order_t, cust, t - 90 * DAY, t)
        last = _last_before(order_cust, order_t, cust, t)
        sess_v = self.web["view_visitor"]
        views30 = _count_in_window(sess_v, self.web["view_t"], cust, t - 30 * DAY, t)
        return dict(
            age_band=v["age"][cust], device=v["device"][cust], channel=v["channel"][cust],
            follows_page=v["follows"][cust].astype(int), heard_of_shop=v["heard"][cust].astype(int),
            orders_90d=n90, days_since_last_order=np.where(np.isnan(last), np.nan, (t - last) / DAY),
            views_30d=views30, hour=((t % DAY) // HOUR).astype(int),
        )

    def apply_exposures(self):
        """Promotion-driven orders and suppressed organic orders; truth per exposure and per customer."""
        rng, v = self.rng, self.v
        kinds, ids, custs, ts, arms = (np.concatenate(x) for x in zip(*[
            (np.full(e[2].size, e[0]), e[1], e[2], e[3], e[4]) for e in self.exposures], strict=True))
        p, uplift, revenue = self._true_response(custs, ts)
        e, r = self._effects(custs)
        idx = np.arange(custs.size)
        e_sel, r_sel = e[idx, arms], r[idx, arms]
        # suppression of organic orders in the window
        suppress = rng.random(custs.size) < r_sel
        self.suppress_windows = (custs[suppress], ts[suppress], ts[suppress] + ATTRIBUTION_DAYS * DAY)
        # promotion-driven orders
        win = rng.random(custs.size) < e_sel
        delay = np.clip(np.exp(rng.normal(np.log(2.5 * DAY), 0.9, win.sum())), HOUR, ATTRIBUTION_DAYS * DAY - 60)
        pt = ts[win] + delay
        keep = pt < self.end_s
        self.promo = dict(visitor=custs[win][keep], t=pt[keep], arm=arms[win][keep])
        n_arm = len(ARM_IDS)
        # one row per exposure x arm: the text columns stay indices until written
        row_of = np.repeat(np.arange(custs.size), n_arm)
        arm_of = np.tile(np.arange(n_arm), custs.size)
        self._emit("truth", "truth_exposures", {
            "exposure_kind": _Take(kinds, row_of),
            "exposure_id": _Take(ids, row_of),
            "customer_id": _Take(self.customer_ids, custs[row_of]),
            "promotion_id": _Take(np.array(ARM_IDS), arm_of),
            "p_convert": p.ravel(),
            "true_uplift": uplift.ravel(),
            "expected_revenue": revenue.ravel(),
        })
        # per customer x arm at TRUTH_REFERENCE_DAYS before the end of data
        allc = np.arange(self.nc)
        t_ref = np.full(self.nc, float(self.end_s - TRUTH_REFERENCE_DAYS * DAY))
        pc, uc, rc = self._true_response(allc, t_ref)
        oracle = pc.argmax(axis=1)
        del row_of, arm_of
        self._emit("truth", "truth_customer_arms", {
            "customer_id": _Take(self.customer_ids, np.repeat(allc, n_arm)),
            "promotion_id": _Take(np.array(ARM_IDS), np.tile(np.arange(n_arm), self.nc)),
            "p_convert": pc.ravel(),
            "true_uplift": uc.ravel(),
            "expected_revenue": rc.ravel(),
            "is_oracle_arm": (np.arange(n_arm)[None, :] == oracle[:, None]).ravel(),
        })
        c = slice(0, self.nc)
        self._emit("truth", "truth_customers", {
            "customer_id": self.customer_ids,
            "active_from": _ts(v["active_from"][c]),
            "active_until": _ts(np.minimum(v["active_until"][c], 20 * 365 * DAY)),
            "online_order_rate": (v["session_rate"] * v["conv"])[c],
            "store_order_rate": v["store_rate"][c],
            "price_sensitivity": v["price_sens"][c],
            "uplift_type": UPLIFT_TYPES[v["utype"][c]],
            "mean_order_value": self._mean_order_value(allc),
        })

    # ------------------------------------------------------------------ orders, lines, events
    def orders_and_events(self):
        rng, v, w = self.rng, self.v, self.web
        # online organic, store organic, promotion-driven (online)
        o_vis = np.concatenate([w["buy_visitor"], self.store["visitor"], self.promo["visitor"]])
        o_t = np.concatenate([w["buy_t"], self.store["t"], self.promo["t"]])
        o_kind = np.concatenate([np.zeros(w["buy_t"].size, int), np.ones(self.store["t"].size, int),
                                 np.full(self.promo["t"].size, 2)])
        o_arm = np.concatenate([np.full(w["buy_t"].size + self.store["t"].size, -1), self.promo["arm"]])
        src_idx = np.concatenate([np.arange(w["buy_t"].size), np.arange(self.store["t"].size),
                                  np.arange(self.promo["t"].size)])
        # suppression by do-not-disturb exposures (organic orders only)
        sc, s_lo, s_hi = self.suppress_windows
        hit = _in_any_window(o_vis, o_t, sc, s_lo, s_hi) & (o_kind < 2)
        keep = ~hit
        o_vis, o_t, o_kind, o_arm, src_idx = o_vis[keep], o_t[keep], o_kind[keep], o_arm[keep], src_idx[keep]
        order = np.lexsort((o_vis, o_t))
        o_vis, o_t, o_kind, o_arm, src_idx = o_vis[order], o_t[order], o_kind[order], o_arm[order], src_idx[order]
        n = o_t.size
        order_ids = _ids("O", np.arange(n), 8)
        # lines: online 1 line (the bought product), store 1 + Poisson(1.5), promo 1-2 lines
        n_lines = np.where(o_kind == 1, np.minimum(1 + rng.poisson(1.5, n), 8),
                           np.where(o_kind == 2, 1 + (rng.random(n) < 0.4), 1))
        l_order = np.repeat(np.arange(n), n_lines)
        first = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
        line_no = np.arange(l_order.size) - np.repeat(first, n_lines) + 1
        l_prod = self._pick_products(v["pref"][o_vis][l_order], v["pref2"][o_vis][l_order], o_t[l_order])
        online_first = (o_kind[l_order] == 0) & (line_no == 1)
        l_prod[online_first] = w["buy_prod"][src_idx[l_order[online_first]]]
        qty = np.where(rng.random(l_order.size) < 0.8, 1, np.where(rng.random(l_order.size) < 0.75, 2, 3))
        price = self.prod_price[l_prod]
        # organic discounts: occasional markdowns, more often taken by price-sensitive customers
        s = v["price_sens"][o_vis][l_order]
        organic_disc = np.where(rng.random(l_order.size) < 0.05 + 0.25 * s, rng.choice([0.1, 0.2, 0.3], l_order.size),
                                0.0)
        disc_rate = np.where(o_arm[l_order] >= 0, ARM_DISCOUNT[np.maximum(o_arm[l_order], 0)], organic_disc)
        l_disc = np.round(qty * price * disc_rate, 2)
        gross = np.bincount(l_order, weights=qty * price, minlength=n)
        disc = np.bincount(l_order, weights=l_disc, minlength=n)
        self._emit("raw", "orders", {
            "order_id": order_ids,
            "customer_id": _Take(self.customer_ids, o_vis),
            "ordered_at": _ts(o_t),
            "amount": np.round(gross - disc, 2),
            "discount_amount": np.round(disc, 2),
            "channel": _Take(np.array(["online", "store"]), (o_kind == 1).astype(np.int8)),
            "store_id": _Take(self.store_ids, np.where(o_kind == 1, self.home_store[o_vis], -1), nullable=True),
            "promotion_id": _Take(np.array(ARM_IDS), o_arm, nullable=True),
        })
        del gross, disc, s, organic_disc, disc_rate
        self._emit("raw", "order_lines", {
            "order_id": _Take(order_ids, l_order),
            "line_number": line_no.astype(np.int32),
            "product_id": _Take(self.product_ids, l_prod),
            "quantity": qty.astype(np.int32),
            "unit_price": price,
            "discount_amount": l_disc,
        })
        # events: views, carts, transactions of kept online orders; promo orders get a short visit
        online = o_kind != 1
        on_idx = np.flatnonzero(online)
        # transaction events: one per line of an online order
        tl = np.isin(l_order, on_idx)
        # one transaction event per product of an order (two lines of the same product share it)
        pair = l_order.astype(np.int64) * self.p.n_products + l_prod
        first_of_pair = np.zeros(l_order.size, dtype=bool)
        first_of_pair[np.unique(pair, return_index=True)[1]] = True
        tl &= first_of_pair
        tx_t = o_t[l_order[tl]]
        tx_vis = o_vis[l_order[tl]]
        tx_prod = l_prod[tl]
        tx_dev = np.where(o_kind[l_order[tl]] == 0, w["buy_device"][np.minimum(src_idx[l_order[tl]],
                                                                                 max(w["buy_device"].size - 1, 0))]
                          if w["buy_device"].size else 0, v["device"][tx_vis])
        promo_lines = np.flatnonzero(tl & (o_kind[l_order] == 2))
        pv_t = o_t[l_order[promo_lines]]
        pv_vis = o_vis[l_order[promo_lines]]
        pv_prod = l_prod[promo_lines]
        pv_dev = v["device"][pv_vis]
        ev_t = np.concatenate([w["view_t"], pv_t - 180 - 30 * line_no[promo_lines], w["cart_t"],
                               pv_t - 60 - 10 * line_no[promo_lines], tx_t])
        ev_vis = np.concatenate([w["view_visitor"], pv_vis, w["cart_visitor"], pv_vis, tx_vis])
        ev_prod = np.concatenate([w["view_prod"], pv_prod, w["cart_prod"], pv_prod, tx_prod])
        ev_dev = np.concatenate([w["view_device"], pv_dev, w["cart_device"], pv_dev, tx_dev])
        ev_type = np.concatenate([np.zeros(w["view_t"].size + pv_t.size, np.int8),
                                  np.ones(w["cart_t"].size + pv_t.size, np.int8), np.full(tx_t.size, 2, np.int8)])
        ev_tx = np.concatenate([np.full(ev_t.size - tx_t.size, -1), l_order[tl]])
        # the web sessions are in the event arrays now: release them (and what else only the orders needed)
        delayed_share = float(w["buy_delayed"].mean()) if w["buy_delayed"].size else 0.0
        del w, self.web, l_prod, line_no, price, l_disc, pair, first_of_pair, tl, l_order
        keep = (ev_t >= 0) & (ev_t < self.end_s)
        ev_t, ev_vis, ev_prod, ev_dev, ev_type, ev_tx = (
            a[keep] for a in (ev_t, ev_vis, ev_prod, ev_dev, ev_type, ev_tx))
        del keep
        order = np.lexsort((ev_type, ev_vis, np.floor(ev_t)))
        n_type = np.bincount(ev_type, minlength=3)
        n_events = int(ev_t.size)
        ev_at = _ts(ev_t[order])
        del ev_t
        ev_vis, ev_type, ev_prod, ev_tx, ev_dev = (a[order] for a in (ev_vis, ev_type, ev_prod, ev_tx, ev_dev))
        del order
        self._emit("raw", "events", {
            "event_at": ev_at,
            "visitor_id": _Take(self.visitor_ids, ev_vis),
            "event_type": _Take(np.array(["view", "addtocart", "transaction"]), ev_type),
            "product_id": _Take(self.product_ids, ev_prod),
            "transaction_id": _Take(order_ids, ev_tx, nullable=True),
            "device": _Take(DEVICES, ev_dev),
        })
        self.stats = {
            "customers": int(self.nc), "visitors": int(self.nv), "events": n_events,
            "views": int(n_type[0]), "carts": int(n_type[1]),
            "transactions": int(n_type[2]), "orders": int(n),
            "online_orders": int(online.sum()), "store_orders": int((~online).sum()),
            "promotion_orders": int((o_kind == 2).sum()), "suppressed_orders": int(hit.sum()),
            "delayed_purchase_share": delayed_share,
            "decisions": self.row_counts["decisions"],
            "experiment_assignments": self.row_counts["experiment_assignments"],
        }


def _categorical(rng, logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)).sum(axis=1).clip(0, p.shape[1] - 1)


def _weighted_times(rng, lo, hi, weekday_w, hour_w):
    """Times in [lo, hi) seconds with day-of-week and hour-of-day weights (rejection sampling on the day)."""
    n = lo.size
    out = np.empty(n)
    todo = np.arange(n)
    wmax = weekday_w.max()
    hour_p = hour_w / hour_w.sum()
    while todo.size:
        u = lo[todo] + rng.random(todo.size) * np.maximum(hi[todo] - lo[todo], 1.0)
        day = np.floor(u / DAY)
        weekday = (day.astype(np.int64) % 7)  # PERIOD_START is a Monday
        ok = rng.random(todo.size) < weekday_w[weekday] / wmax
        out[todo[ok]] = day[ok] * DAY
        todo = todo[~ok]
    hours = rng.choice(24, n, p=hour_p)
    t = out + hours * HOUR + rng.random(n) * HOUR
    return np.clip(t, lo, np.maximum(hi - 1, lo))


def _count_in_window(ev_key, ev_t, key, t_lo, t_hi):
    """For each (key, [t_lo, t_hi)), how many events of that key fall in the window."""
    order = np.lexsort((ev_t, ev_key))
    k, t = ev_key[order].astype(np.float64), ev_t[order]
    scale = 1e10
    comb = k * scale + t
    return (np.searchsorted(comb, key * scale + t_hi) - np.searchsorted(comb, key * scale + t_lo)).astype(int)


def _last_before(ev_key, ev_t, key, t):
    order = np.lexsort((ev_t, ev_key))
    k, tt = ev_key[order].astype(np.float64), ev_t[order]
    scale = 1e10
    comb = k * scale + tt
    pos = np.searchsorted(comb, key * scale + t) - 1
    ok = (pos >= 0) & (k[np.maximum(pos, 0)] == key)
    return np.where(ok, tt[np.maximum(pos, 0)], np.nan)


def _in_any_window(key, t, w_key, w_lo, w_hi):
    """True where (key, t) falls inside any of the windows (w_key, (w_lo, w_hi])."""
    if w_key.size == 0:
        return np.zeros(key.size, dtype=bool)
    scale = 1e10
    # windows of one key do not overlap much; check the latest window starting before t
    order = np.lexsort((w_lo, w_key))
    wk, wl, wh = w_key[order].astype(np.float64), w_lo[order], w_hi[order]
    comb = wk * scale + wl
    pos = np.searchsorted(comb, key * scale + t, side="left") - 1
    ok = pos >= 0
    p_ = np.maximum(pos, 0)
    hit = ok & (wk[p_] == key) & (t > wl[p_]) & (t <= wh[p_])
    # a second, earlier window of the same key may still cover t
    p2 = np.maximum(pos - 1, 0)
    hit |= (pos >= 1) & (wk[p2] == key) & (t > wl[p2]) & (t <= wh[p2])
    return hit


def _context_json(ctx: dict) -> np.ndarray:
    names = {"age_band": AGE_BANDS, "device": DEVICES, "channel": CHANNELS}
    out = []
    n = len(ctx["hour"])
    for i in range(n):
        d = {}
        for key, val in ctx.items():
            x = val[i]
            if key in names:
                d["acquisition_channel" if key == "channel" else key] = str(names[key][x])
            elif isinstance(x, float | np.floating):
                d[key] = None if np.isnan(x) else round(float(x), 3)
            else:
                d[key] = int(x)
        out.append(json.dumps(d, separators=(",", ":")))
    return np.array(out)


ROW_GROUP_ROWS = 1_000_000  # Parquet row group (unchanged: the files stay byte-identical)
#: rows turned into text (and Arrow) at a time when a table is written
DEFAULT_CHUNK_ROWS = 250_000
_ARROW_TYPES = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "DOUBLE": pa.float64(),
                "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(), "BIGINT": pa.int64()}


class _Take:
    """A column kept as ``values[index]`` until it is written (``index < 0`` is null, when ``nullable``).

    Slicing (``col[a:b]``) materialises those rows only; ``np.asarray(col)`` all of them."""

    __slots__ = ("values", "index", "nullable")

    def __init__(self, values: np.ndarray, index: np.ndarray, nullable: bool = False):
        self.values, self.index, self.nullable = np.asarray(values), np.asarray(index), nullable

    def __len__(self) -> int:
        return self.index.size

    @property
    def size(self) -> int:
        return self.index.size

    def __getitem__(self, key) -> np.ndarray:
        idx = self.index[key]
        if not self.values.size:  # every row null (or none at all)
            return np.full(idx.shape, None, dtype=object)
        out = self.values[np.maximum(idx, 0)]
        if self.nullable:
            out = out.astype(object)
            out[idx < 0] = None
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)


#: pyarrow turns a NumPy text array into Arrow chunks of at most this many bytes of UTF-8; a Parquet page
#: can end where a chunk ends, so the chunked writer keeps the chunks of the whole column (byte-identical files)
ARROW_TEXT_CHUNK_BYTES = 1 << 24


def _utf8_lengths(col) -> np.ndarray:
    """UTF-8 bytes of every value of a (non-null) text column."""
    if isinstance(col, _Take):
        return _utf8_lengths(col.values)[col.index] if col.values.size else np.zeros(col.size, np.int64)
    arr = np.asarray(col)
    if arr.dtype == object:
        arr = arr.astype(str)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.dtype.itemsize == 0 or int(arr.view(np.uint32).max()) < 128:  # ASCII: one byte per character
        return np.char.str_len(arr).astype(np.int64)
    return np.fromiter((len(x.encode()) for x in arr.tolist()), np.int64, arr.size)


def _text_chunk_starts(col) -> np.ndarray:
    """Where ``pa.array`` of the whole column would start a new chunk (row numbers, the first is 0)."""
    cum = np.concatenate([[0], np.cumsum(_utf8_lengths(col))])
    n, starts = cum.size - 1, [0]
    while True:
        end = int(np.searchsorted(cum, cum[starts[-1]] + ARROW_TEXT_CHUNK_BYTES, side="right")) - 1
        if end >= n:
            return np.array(starts)
        starts.append(max(end, starts[-1] + 1))


def _arrow(data, typ) -> pa.Array:
    """One contiguous Arrow array (pyarrow cuts a NumPy text array of more than 16 MiB into chunks)."""
    if typ == pa.string():
        data = np.asarray(data)
        if data.dtype == object:
            out = pa.array([None if x is None else str(x) for x in data], type=typ)
        else:
            out = pa.array(data.astype(str), type=typ)
    else:
        out = pa.array(np.asarray(data), type=typ)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _nullable(col) -> bool:
    """A text column written through a list of Python strings (nulls possible), not a NumPy text array."""
    if isinstance(col, _Take):
        return col.nullable or not col.values.size
    return np.asarray(col).dtype == object and any(x is None for x in col)


def _write(table_def, columns: dict, path: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> int:
    """Write one table, ``chunk_rows`` rows at a time, in row groups of ROW_GROUP_ROWS rows.

    A text column's ``None`` is null. The bytes do not depend on ``chunk_rows``: each row group is
    one contiguous Arrow table, as ``pq.write_table`` would cut it."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    types = [_ARROW_TYPES[col.type] for col in table_def.columns]
    data = [columns[col.name] for col in table_def.columns]
    lengths = {col.name: len(d) for col, d in zip(table_def.columns, data, strict=True)}
    n = next(iter(lengths.values()))
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path.name}: columns of different lengths {lengths}")
    schema = pa.schema(list(zip(table_def.column_names, types, strict=True)))
    # text columns without nulls go through NumPy text arrays: keep pyarrow's chunks of the whole column
    cuts = [_text_chunk_starts(d) if t == pa.string() and not _nullable(d) else np.array([0])
            for d, t in zip(data, types, strict=True)]
    if n == 0:
        pq.write_table(pa.Table.from_arrays([_arrow(d[0:0], t) for d, t in zip(data, types, strict=True)],
                                            schema=schema), path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        return 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for g0 in range(0, n, ROW_GROUP_ROWS):
            g1 = min(n, g0 + ROW_GROUP_ROWS)
            arrays = []
            for d, t, cut in zip(data, types, cuts, strict=True):
                bounds = [g0, *cut[(cut > g0) & (cut < g1)].tolist(), g1]
                segments = []
                for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                    parts = [_arrow(d[s:min(b, s + chunk_rows)], t) for s in range(a, b, chunk_rows)]
                    segments.append(parts[0] if len(parts) == 1 else pa.concat_arrays(parts))
                arrays.append(segments[0] if len(segments) == 1 else pa.chunked_array(segments, type=t))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=ROW_GROUP_ROWS)
            del arrays
    return n


def generate_world(preset: str | Preset = "default", seed: int = 42, out: str | Path = "data/default",
                   progress: bool | Callable = True, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> dict:
    """Generate the simulated world into ``out/raw`` (the contract's tables) and ``out/truth``.

    Returns a summary dict (also written to ``out/world.json``). Deterministic for a seed: the files are
    byte-identical for every ``chunk_rows`` (how many rows are turned into text at a time when a table
    is written; smaller saves memory, see the module's docstring). Each table is written as soon as
    the step that makes it ends.
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    out = Path(out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    contract_tables = {"raw": TABLES, "truth": TRUTH_TABLES}

    def sink(group: str, name: str, columns: dict) -> int:
        return _write(contract_tables[group][name], columns, out / group / f"{name}.parquet", int(chunk_rows))

    w = _World(p, seed, sink=sink)
    steps = [("catalogue", w.catalogue), ("customers and visitors", w.people), ("web sessions", w.sessions),
             ("store orders", w.store_orders), ("experiments", w.experiments), ("decision log", w.decisions),
             ("promotion effects and truth", w.apply_exposures), ("orders and events", w.orders_and_events)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(steps) + 1, desc=f"generate {p.name}", unit="step")
    for label, fn in steps:
        if bar:
            bar.set_postfix_str(label)
        fn()
        if bar:
            bar.update(1)
    counts = dict(w.row_counts)
    missing = sorted((set(TABLES) | set(TRUTH_TABLES)) - set(counts))
    if missing:
        raise RuntimeError(f"the generator wrote no table {', '.join(missing)}")
    if bar:
        bar.update(1)
        bar.close()
    summary = {
        "preset": asdict(p), "seed": seed,
        "period_start": str(PERIOD_START), "period_end": str(PERIOD_START + np.timedelta64(p.days, "D")),
        "attribution_days": ATTRIBUTION_DAYS, "row_counts": counts, "stats": w.stats,
    }
    (out / "world.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
