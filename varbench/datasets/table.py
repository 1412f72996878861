"""Your own table: a CSV / Parquet file or a pandas DataFrame as a varbench dataset.

`encode_table` turns a frame into a numeric matrix the networks train on, and records how:
numeric (and boolean) columns are standardised (mean 0, population sd 1; the mean and sd of each
column are kept in `Encoded.scaling`); string / categorical columns are one-hot encoded (one 0/1
column per level, named `column=level`) and grouped, so importance is judged per original column
(`Dataset.groups`). A categorical column with more than `max_levels`
levels (default `MAX_LEVELS`) keeps its `max_levels - 1` most frequent levels and merges the rest
into one level `OTHER`; the merge is logged and recorded (`Encoded.merged`), and memory stays
bounded by the table, not by its levels. Constant columns and id-like columns (every value
distinct: a string key, or an integer counter) are dropped with a warning. Missing values are an error naming the columns
and counts unless `impute` is "median" (numeric columns by their median, the others by their
most frequent value) or "most_frequent" (every column by its most frequent value); imputation is
logged. The task is inferred from the target (two values: binary classification; a string /
boolean / small integer target with more: multi-class; otherwise regression) or given. A
target that looks like ids, dates or free text is refused unless the task is given.

Messages name the option the caller set: `dataset.impute` etc. for `dataset=table` (`TABLE_KEYS`),
the command's own flags for `varbench advise` (`keys=`).

Every rejected input (unreadable file, repeated column names in its header, unknown target or column, a one-valued target, fewer than
`MIN_ROWS` rows, at least as many columns as rows, a column mixing numbers and text, missing
values) raises one ValueError line naming the file or column and the problem, before any training.

`table(...)` (`dataset=table`) returns the Dataset for the real target: its truth is unknown
(`GroundTruth.known` is False), so the runner scores methods only against the trained model's own
truth (where d allows).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from varbench.datasets.base import TASKS, Dataset, GroundTruth, variables

log = logging.getLogger(__name__)

MIN_ROWS = 50
IMPUTE = ("median", "most_frequent")
TASK_CHOICES = ("regression", "classification", "multiclass")
MAX_CLASSES = 20  # an integer target with more distinct values than this is a regression target
MAX_LEVELS = 30  # one-hot levels per categorical column before rare levels merge into OTHER
OTHER = "(other)"
TABLE_KEYS = {"columns": "dataset.columns", "drop": "dataset.drop", "impute": "dataset.impute",
              "task": "dataset.task", "max_levels": "+dataset.max_levels"}  # the option behind each message
ENCODING_FORMAT = "varbench.encoding/1"
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Encoded:
    """A table encoded for training, with a record of every step.

    X: (n, d) float matrix; y: (n,) target (0/1 or 0..k-1 for classification) or None;
    feature_names: the d encoded column names; groups: {original column: its one-hot columns};
    scaling: {numeric column: (mean, sd)} used to standardise it (a regression target is
    standardised too, its entry under the target's name); categories: {column: levels};
    classes: the target's labels in code order (classification); dropped: {column: reason};
    imputed: {column: number of values filled}; fill: {column: the value filled in};
    merged: {column: {"levels", "kept", "rows"}} for columns whose rare levels became OTHER; fingerprint: SHA-256 prefix of the encoded data.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    groups: dict[str, list[int]]
    task: str | None
    source: str
    target: str | None = None
    scaling: dict[str, tuple[float, float]] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)
    classes: list[Any] | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    imputed: dict[str, int] = field(default_factory=dict)
    fill: dict[str, Any] = field(default_factory=dict)
    merged: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def variables(self) -> list[tuple[str, list[int]]]:
        """(original column, encoded column indices) per variable, in column order."""
        return variables(self.feature_names, self.groups or None)

    @property
    def numeric(self) -> list[str]:
        """The standardised (non-one-hot) feature variables."""
        return [name for name, _ in self.variables if name in self.scaling and name != self.target]

    def record(self) -> dict[str, Any]:
        """The encoding as JSON-able data (logged with the cell)."""
        return {"format": ENCODING_FORMAT, "source": self.source, "target": self.target, "task": self.task,
                "columns": list(self.feature_names),
                "scaling": {c: {"mean": m, "sd": s} for c, (m, s) in self.scaling.items()},
                "one_hot": self.categories, "classes": self.classes, "dropped": self.dropped,
                "imputed": self.imputed, "fill": self.fill, "merged": self.merged}

    def save(self, path: str | Path) -> Path:
        """Write the encoding (`record()`) as JSON: what a model trained on `X` expects
        (`varbench advise --model my.keras --encoding encoding.json`).

        Examples
        --------
        >>> enc = load_encoded("my.csv", target="price")  # doctest: +SKIP
        >>> enc.save("encoding.json")                       # doctest: +SKIP
        """
        import json

        p = Path(path)
        p.write_text(json.dumps(self.record(), indent=1, default=str))
        return p

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        if self.y is not None:
            h.update(np.ascontiguousarray(self.y, dtype=np.float64).tobytes())
        h.update(",".join(self.feature_names).encode())
        return h.hexdigest()[:16]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv / .tsv / .parquet file; a one-line ValueError naming the file otherwise."""
    p = Path(str(path)).expanduser()
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise ValueError(f"{p}: unsupported file type {p.suffix!r}: expected one of {sorted(SUFFIXES)}")
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    if kind != "parquet":
        _check_header(p, "\t" if kind == "tsv" else ",")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, sep="\t" if kind == "tsv" else ",")
    except Exception as exc:  # noqa: BLE001 - parser errors of every kind become one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"{p}: cannot be read as {kind}: {type(exc).__name__}: {first}") from None
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError(f"{p}: has no data ({frame.shape[0]} rows, {frame.shape[1]} columns)")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _check_header(p: Path, sep: str) -> None:
    """Repeated names in a CSV header are refused (pandas would silently rename them a, a.1)."""
    import csv

    try:
        with open(p, newline="", encoding="utf-8-sig", errors="replace") as fh:
            header = next(csv.reader(fh, delimiter=sep), [])
    except (OSError, csv.Error):
        return  # unreadable: pandas names the problem
    header = [h.strip() for h in header]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise ValueError(f"{p}: repeated column names in the header: {dup}: rename them (they would be read "
                         f"as {dup[0]!r}, {dup[0] + '.1'!r}, ...)")


def _names(value: Any, key: str, available: Sequence[str], source: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else [str(v) for v in list(value)]
    missing = [c for c in items if c not in available]
    if missing:
        raise ValueError(f"{source}: {key} names {missing}, not columns of the table "
                         f"(columns: {_short(available)})")
    return items


def _short(items: Sequence[str], n: int = 12) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def _as_numeric(col: pd.Series, name: str, source: str, drop_key: str = TABLE_KEYS["drop"]) -> pd.Series | None:
    """A numeric view of the column, None if it is text; ValueError if it mixes both."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    if isinstance(col.dtype, pd.CategoricalDtype):
        return None
    present = col.dropna()
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    n_num = int(parsed.notna().sum())
    if n_num == len(present) and n_num > 0:
        return pd.to_numeric(col.astype(str).str.strip().where(col.notna()), errors="coerce")
    if n_num > 0:
        text = present[parsed.isna()].astype(str).unique()[:3].tolist()
        nums = present[parsed.notna()].astype(str).unique()[:3].tolist()
        raise ValueError(f"{source}: column {name!r} mixes numbers ({n_num} values, e.g. {nums}) and text "
                         f"({len(present) - n_num} values, e.g. {text}): clean it or list it in {drop_key}")
    return None


def _id_like(values: pd.Series, numeric: bool) -> bool:
    n = len(values)
    if values.nunique(dropna=True) != n or n < 2:
        return False
    if not numeric:
        return True
    v = values.to_numpy(dtype=float)
    return bool(np.all(v == np.round(v)) and np.all(np.diff(np.sort(v)) == 1))


def infer_task(y: pd.Series, numeric: pd.Series | None) -> str:
    """regression, classification (two values) or multiclass, from the target's values."""
    k = y.nunique(dropna=True)
    if k == 2:
        return "classification"
    if numeric is None or pd.api.types.is_bool_dtype(y):
        return "multiclass"
    v = numeric.dropna().to_numpy()
    if np.all(v == np.round(v)) and k <= MAX_CLASSES and k < 0.05 * len(v) + 3:
        return "multiclass"
    return "regression"


def _looks_like_dates(text: pd.Series) -> bool:
    """Whether (a sample of) these non-numeric strings all parse as dates or times."""
    sample = text.iloc[:200]
    if not sample.str.contains(r"\d").all():
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def not_a_target(y: pd.Series, numeric: pd.Series | None) -> str | None:
    """Why a column looks like no target to predict (ids, dates or free text), or None.

    Examples
    --------
    >>> not_a_target(pd.Series(["2024-01-0%d" % d for d in range(1, 10)]), None)
    "dates (e.g. '2024-01-01')"
    """
    present = y.dropna()
    k, n = int(present.nunique()), len(present)
    if k <= 2:
        return None
    if numeric is None:
        text = present.astype(str)
        if _looks_like_dates(text):
            return f"dates (e.g. {text.iloc[0]!r})"
        if k == n:
            return f"ids (every value distinct, e.g. {text.iloc[0]!r})"
        if k > MAX_CLASSES:
            return f"free text ({k} distinct values in {n} rows; more than {MAX_CLASSES} classes)"
        return None
    return "ids (an integer counter: every value distinct, consecutive)" if _id_like(numeric.dropna(), True) else None


def _encode_target(y: pd.Series, numeric: pd.Series | None, task: str | None, name: str,
                   source: str, task_key: str = TABLE_KEYS["task"]) -> tuple[np.ndarray, str, list[Any] | None]:
    k = int(y.nunique(dropna=True))
    if k < 2:
        raise ValueError(f"{source}: target column {name!r} has a single value ({y.dropna().iloc[0]!r}): "
                         "nothing to learn")
    if task is not None and task not in TASK_CHOICES:
        raise ValueError(f"{task_key}={task!r} is invalid: expected null (inferred) or one of {TASK_CHOICES}")
    why = None if task is not None else not_a_target(y, numeric)
    if why:
        raise ValueError(f"{source}: target column {name!r} looks like {why}, not a target to predict; if it "
                         f"is one, set {task_key} to one of {TASK_CHOICES}")
    task = task or infer_task(y, numeric)
    if task == "regression":
        if numeric is None:
            raise ValueError(f"{source}: target column {name!r} is text: task=regression needs numbers")
        y = numeric.to_numpy(dtype=float)
        return (y - y.mean()) / y.std(), task, None  # standardised (scaling in Encoded.scaling[target])
    if task == "classification" and k != 2:
        raise ValueError(f"{source}: target column {name!r} has {k} values: task=classification needs "
                         "exactly two (use task=multiclass)")
    if task == "multiclass" and "multiclass" not in TASKS:
        raise ValueError(f"{source}: target column {name!r} has {k} classes: multi-class targets are not "
                         f"supported by this version (tasks: {TASKS})")
    key = numeric if numeric is not None else y.astype(str)
    classes = sorted(key.dropna().unique().tolist())
    codes = key.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=float)
    return codes, task, classes


def _missing(frame: pd.DataFrame, impute: str | None, source: str, target: str | None,
             impute_key: str = TABLE_KEYS["impute"]) -> dict[str, int]:
    counts = {c: int(n) for c, n in frame.isna().sum().items() if n}
    if target is not None and target in counts:
        raise ValueError(f"{source}: target column {target!r} has {counts[target]} missing values: "
                         "drop those rows first (targets are never imputed)")
    if counts and impute is None:
        listing = ", ".join(f"{c!r} ({n})" for c, n in list(counts.items())[:10])
        raise ValueError(f"{source}: missing values in {len(counts)} column(s): {listing}; set "
                         f"{impute_key} to one of {IMPUTE} or clean the table")
    return counts


def encode_table(frame: pd.DataFrame, target: str | None = None, *, columns: Sequence[str] | None = None,
                 drop: Sequence[str] | None = None, impute: str | None = None, task: str | None = None,
                 source: str = "DataFrame", max_levels: int | None = None,
                 keys: dict[str, str] = TABLE_KEYS) -> Encoded:
    """Encode a table for training (see the module docstring). target=None encodes covariates only;
    max_levels: one-hot levels kept per categorical column (None: `MAX_LEVELS`); keys: the option
    each message names (`TABLE_KEYS`)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"dataset.frame must be a pandas DataFrame, got {type(frame).__name__}")
    if impute is not None and impute not in IMPUTE:
        raise ValueError(f"{keys['impute']}={impute!r} is invalid: expected null or one of {IMPUTE}")
    cap = MAX_LEVELS if max_levels is None else max_levels
    if not (isinstance(cap, int) and not isinstance(cap, bool) and cap >= 2):
        raise ValueError(f"{keys['max_levels']}={max_levels!r} is invalid: expected null ({MAX_LEVELS}) or an "
                         "integer >= 2")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != frame.shape[1]:
        dup = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        raise ValueError(f"{source}: repeated column names {dup}")
    cols = list(frame.columns)
    if target is not None and str(target) not in cols:
        raise ValueError(f"{source}: target column {target!r} is not in the table (columns: {_short(cols)})")
    target = None if target is None else str(target)
    chosen = _names(columns, keys["columns"], cols, source) or [c for c in cols if c != target]
    dropped_by_user = set(_names(drop, keys["drop"], cols, source))
    features = [c for c in chosen if c != target and c not in dropped_by_user]
    n = frame.shape[0]
    if n < MIN_ROWS:
        raise ValueError(f"{source}: has {n} rows; at least {MIN_ROWS} are needed to train and test a network")
    if len(features) >= n:
        raise ValueError(f"{source}: has {len(features)} feature columns and only {n} rows: more columns than "
                         f"rows (choose some with {keys['columns']})")
    if not features:
        raise ValueError(f"{source}: no feature columns left (target {target!r}, {keys['drop']}={sorted(dropped_by_user)})")
    used = features + ([target] if target else [])
    counts = _missing(frame[used], impute, source, target, keys["impute"])
    numeric = {c: _as_numeric(frame[c], c, source, keys["drop"]) for c in used}

    y, out_task, classes = (None, task, None)
    scaling: dict[str, tuple[float, float]] = {}
    if target is not None:
        y, out_task, classes = _encode_target(frame[target], numeric[target], task, target, source, keys["task"])
        if out_task == "regression":
            t = numeric[target].to_numpy(dtype=float)
            scaling[target] = (float(t.mean()), float(t.std()))
    blocks: list[np.ndarray] = []
    names: list[str] = []
    groups: dict[str, list[int]] = {}
    categories: dict[str, list[str]] = {}
    dropped: dict[str, str] = {c: keys["drop"] for c in sorted(dropped_by_user)}
    imputed: dict[str, int] = {}
    fills: dict[str, Any] = {}
    merged: dict[str, dict[str, int]] = {}
    for c in features:
        num = numeric[c]
        values = frame[c] if num is None else num
        if counts.get(c):
            fill = (values.median() if (impute == "median" and num is not None)
                    else values.mode(dropna=True).iloc[0])
            values = values.fillna(fill)
            imputed[c] = counts[c]
            fills[c] = fill.item() if hasattr(fill, "item") else fill
            log.info("%s: imputed %d missing value(s) of %r with its %s (%r)", source, counts[c], c,
                     "median" if (impute == "median" and num is not None) else "most frequent value", fill)
        if values.nunique(dropna=True) <= 1:
            dropped[c] = "constant"
            log.warning("%s: dropped constant column %r", source, c)
            continue
        if _id_like(values, num is not None):
            dropped[c] = "id-like (every value distinct)"
            log.warning("%s: dropped id-like column %r (every value distinct)", source, c)
            continue
        if num is not None:
            v = values.to_numpy(dtype=float)
            mean, sd = float(v.mean()), float(v.std())
            scaling[c] = (mean, sd)
            blocks.append(((v - mean) / sd)[:, None])
            names.append(c)
        else:
            text = values.astype(str)
            levels, merge = _levels(text, cap)
            if merge:
                merged[c] = merge
                log.warning("%s: column %r has %d levels: kept the %d most frequent, merged %d rare level(s) "
                            "(%d rows) into %r (%s)", source, c, merge["levels"], merge["kept"],
                            merge["levels"] - merge["kept"], merge["rows"], OTHER, keys["max_levels"])
            categories[c] = levels
            groups[c] = list(range(len(names), len(names) + len(levels)))
            blocks.append(one_hot(text, levels, merged=bool(merge)))
            names += [f"{c}={lv}" for lv in levels]
    if not blocks:
        raise ValueError(f"{source}: every feature column was dropped ({dropped})")
    X = np.hstack(blocks)
    if X.shape[1] >= n:
        raise ValueError(f"{source}: one-hot encoding gives {X.shape[1]} columns for {n} rows: more columns "
                         f"than rows (drop high-cardinality columns with {keys['drop']} or lower {keys['max_levels']})")
    clash = sorted(set(names) & set(groups))
    if clash:
        raise ValueError(f"{source}: columns {clash} collide with one-hot names: rename them")
    return Encoded(X=X, y=y, feature_names=names, groups=groups, task=out_task, source=source, target=target,
                   scaling=scaling, categories=categories, classes=classes, dropped=dropped, imputed=imputed,
                   fill=fills, merged=merged)


def _levels(text: pd.Series, cap: int) -> tuple[list[str], dict[str, int]]:
    """The one-hot levels of a text column: all (sorted) if at most `cap`, else the `cap - 1` most
    frequent (ties by name) and OTHER; plus the merge record ({} when nothing was merged)."""
    counts = text.value_counts()
    if len(counts) <= cap:
        return sorted(counts.index.tolist()), {}
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = sorted(level for level, _ in order[:cap - 1])
    if OTHER in kept:
        raise ValueError(f"column {text.name!r} has a level named {OTHER!r}: rename it")
    rows = int(sum(n for _, n in order[cap - 1:]))
    return kept + [OTHER], {"levels": len(counts), "kept": len(kept), "rows": rows}


def one_hot(text: pd.Series | np.ndarray, levels: list[str], merged: bool = False) -> np.ndarray:
    """(n, len(levels)) 0/1 matrix; with `merged` (rare levels were merged), a value not among
    the levels goes to the last level, OTHER; otherwise its row is all zeros.

    Examples
    --------
    >>> one_hot(np.array(["b", "a", "z"]), ["a", "b", OTHER], merged=True).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    codes = pd.Categorical(np.asarray(text, dtype=object), categories=levels).codes
    if merged:
        codes = np.where(codes < 0, levels.index(OTHER), codes)
    out = np.zeros((len(codes), len(levels)))
    hit = codes >= 0
    out[np.flatnonzero(hit), codes[hit]] = 1.0
    return out


def load_encoded(path: str | None = None, frame: pd.DataFrame | None = None, target: str | None = None,
                 **kwargs: Any) -> Encoded:
    """Read `path` (or take `frame`) and encode it (`encode_table`'s keyword arguments); exactly
    one of the two.

    Examples
    --------
    >>> enc = load_encoded("my.csv", target="price")  # doctest: +SKIP
    >>> enc.X.shape, enc.feature_names                  # doctest: +SKIP
    """
    if (path is None) == (frame is None):
        raise ValueError("dataset.path: give exactly one of a file path and a DataFrame (frame=)")
    source = "DataFrame" if frame is not None else str(Path(str(path)).expanduser())
    data = frame if frame is not None else read_table(path)
    return encode_table(data, target, source=source, **kwargs)


def split_rows(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of a random split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"dataset.test_fraction={test_fraction!r} is invalid: expected a number in (0, 1)")
    n_test = max(1, int(round(test_fraction * n)))
    perm = rng.permutation(n)
    return perm[n_test:], perm[:n_test]


def table(path: str | None = None, target: str | None = None, frame: pd.DataFrame | None = None,
          columns: Sequence[str] | None = None, drop: Sequence[str] | None = None, impute: str | None = None,
          task: str | None = None, test_fraction: float = 0.25, seed: int = 0,
          max_levels: int | None = None) -> Dataset:
    """Your own table with its real target (`dataset=table dataset.path=my.csv dataset.target=price`).

    path: a .csv / .tsv / .parquet file (or frame: a DataFrame, Python API); target: the column to
    predict; columns: the feature columns to use (default: all but the target); drop: columns to
    leave out; impute: null, "median" or "most_frequent"; task: null (inferred) or one of
    TASK_CHOICES; max_levels: one-hot levels per categorical (null: MAX_LEVELS); the split is drawn with `seed`. The truth is unknown: methods are scored against
    the trained model's own truth only (docs/own-data.md)."""
    if target is None:
        raise ValueError("dataset.target is required: the column to predict")
    enc = load_encoded(path, frame, target, columns=columns, drop=drop, impute=impute, task=task,
                       max_levels=max_levels)
    train, test = split_rows(enc.X.shape[0], test_fraction, np.random.default_rng(seed))
    n_var = len(enc.variables)
    truth = GroundTruth(importance=np.zeros(n_var), relevant=np.zeros(n_var, bool), known=False,
                        definition=f"unknown: real target {target!r} of {Path(enc.source).name}")
    ds = Dataset(X_train=enc.X[train], y_train=enc.y[train], X_test=enc.X[test], y_test=enc.y[test],
                 task=str(enc.task), truth=truth, feature_names=enc.feature_names,
                 name=f"table_{Path(enc.source).stem}", groups=enc.groups or None,
                 fingerprint=enc.fingerprint, encoding=enc.record())
    return ds


__all__ = ["Encoded", "read_table", "encode_table", "load_encoded", "infer_task", "not_a_target", "one_hot", "table",
           "MIN_ROWS", "IMPUTE", "MAX_LEVELS", "OTHER", "TABLE_KEYS"]
