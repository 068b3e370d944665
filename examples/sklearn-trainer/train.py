"""An external trainer for temporal-mlops: scikit-learn, exported with skl2onnx.

temporal-mlops runs this in a working folder that holds:
  train.parquet, validation.parquet   the raw feature columns and the label column
  spec.json                           task, label, classes, features (name, kind), seed, params
and expects model.onnx there afterwards: one [N, 1] input per feature, named as the column
(float for numerics, string for categoricals). The platform checks the model and computes its
metrics itself. Classifiers may keep skl2onnx's ZipMap output; the platform unwraps it.

    mlops train churn --dataset churn --trainer command \
        --command '["python", "examples/sklearn-trainer/train.py"]'
"""
import json
import sys

import numpy as np
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def as_text(value):
    """Label values as the platform names classes (DuckDB's text form: true/false, 1, 'a')."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def main():
    with open("spec.json") as f:
        spec = json.load(f)
    train = pd.read_parquet("train.parquet")
    numeric = [f["name"] for f in spec["features"] if f["kind"] == "numeric"]
    categorical = [f["name"] for f in spec["features"] if f["kind"] == "categorical"]
    x = train[numeric + categorical].copy()
    for name in numeric:
        x[name] = x[name].astype("float32")
    for name in categorical:
        x[name] = x[name].fillna("").astype(str)

    params = spec.get("params", {})
    if spec["task"] == "regression":
        y = train[spec["label"]].astype("float64")
        estimator = Ridge(alpha=params.get("alpha", 1.0))
    else:
        index = {c: i for i, c in enumerate(spec["classes"])}
        y = train[spec["label"]].map(lambda v: index[as_text(v)]).astype("int64")
        estimator = LogisticRegression(C=params.get("C", 1.0), max_iter=int(params.get("max_iter", 500)))

    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler())]), numeric),
                        # Missing text is already "" (above), which the platform also sends for missing values.
                        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ]
                ),
            ),
            ("model", estimator),
        ]
    )
    pipeline.fit(x, y)
    initial_types = [(n, FloatTensorType([None, 1])) for n in numeric] + [(n, StringTensorType([None, 1])) for n in categorical]
    onnx_model = to_onnx(pipeline, initial_types=initial_types, target_opset={"": 17, "ai.onnx.ml": 3})
    with open("model.onnx", "wb") as f:
        f.write(onnx_model.SerializeToString())
    print(f"trained {type(estimator).__name__} on {len(train)} rows; wrote model.onnx", file=sys.stderr)


if __name__ == "__main__":
    main()
