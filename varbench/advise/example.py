"""Example tables for `advise`: a synthetic mixed-type housing-like table (the benchmark's
5,000 x 20 case) and scikit-learn's bundled diabetes table (raw units; nothing downloaded)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def mixed_table(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """n rows: an id, 15 numeric columns (skewed, integer, a correlated pair sqft_living /
    sqft_living15, pure noise), 4 string categoricals, 1 boolean, and a `price` target that
    depends on a few of them (with an interaction)."""
    rng = np.random.default_rng(seed)
    sqft = np.exp(rng.normal(7.5, 0.4, n))
    hood = rng.choice([f"hood_{c}" for c in "ABCDEFGH"], n)
    kind = rng.choice(["house", "flat", "townhouse"], n, p=[0.5, 0.3, 0.2])
    grade = np.clip(np.round(7 + 0.8 * (np.log(sqft) - 7.5) / 0.4 + rng.normal(0, 1, n)), 3, 13)
    lat = rng.normal(47.5, 0.15, n)
    df = pd.DataFrame({
        "id": rng.permutation(n) + 100000,
        "sqft_living": sqft.round(),
        "sqft_living15": (sqft * np.exp(rng.normal(0, 0.12, n))).round(),
        "sqft_lot": np.exp(rng.normal(8.9, 0.9, n)).round(),
        "bedrooms": np.clip(rng.poisson(3, n), 1, 8),
        "bathrooms": np.round(rng.gamma(4, 0.5, n) * 2) / 2,
        "floors": rng.choice([1.0, 1.5, 2.0, 3.0], n, p=[0.45, 0.1, 0.4, 0.05]),
        "grade": grade,
        "condition": rng.integers(1, 6, n),
        "year_built": rng.integers(1900, 2016, n),
        "lat": lat,
        "long": rng.normal(-122.2, 0.14, n),
        "income_area": 60 + 40 * (lat - 47.5) / 0.15 + rng.normal(0, 20, n),
        "distance_center": rng.exponential(8.0, n),
        "school_score": rng.normal(6, 1.5, n),
        "noise": rng.normal(0, 1, n),
        "neighbourhood": hood,
        "type": kind,
        "heating": rng.choice(["gas", "electric", "oil", "none"], n, p=[0.5, 0.3, 0.15, 0.05]),
        "waterfront": rng.choice(["no", "yes"], n, p=[0.93, 0.07]),
        "renovated": rng.random(n) < 0.2,
    })
    hood_effect = dict(zip([f"hood_{c}" for c in "ABCDEFGH"], rng.normal(0, 0.15, 8)))
    log_price = (12.5 + 0.6 * (np.log(sqft) - 7.5) / 0.4 * 0.4 + 0.08 * (grade - 7)
                 + df["neighbourhood"].map(hood_effect) + 0.3 * (df["waterfront"] == "yes")
                 - 0.01 * df["distance_center"] + 0.002 * (df["income_area"] - 60)
                 + 0.05 * (grade - 7) * (df["type"] == "house") + rng.normal(0, 0.15, n))
    df["price"] = np.exp(log_price).round(-2)
    return df


def diabetes_table() -> pd.DataFrame:
    """scikit-learn's diabetes data in raw units (442 rows; target `target`, a disease-progression
    score), read from the files shipped with scikit-learn. `sex` (coded 1/2 in the source, which does
    not say which is which) is written as the text levels "sex_1"/"sex_2", so it enters as a
    categorical variable (a one-hot group), as a user's table with a text column would."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.assign(sex=frame["sex"].map(lambda v: f"sex_{int(v)}"))


__all__ = ["mixed_table", "diabetes_table"]
