"""Python peer of `npm run bench:peers:loop`: the whole ingest -> train -> evaluate -> promote a
Python user would write with pandas, scikit-learn and MLflow (local file tracking and registry).

  ingest:   pd.read_csv, the contract's checks (key not null and unique, label not null, types),
            failing rows dropped, Parquet snapshot written;
  train:    a deterministic 70/15/15 split; Pipeline(impute + scale numerics, one-hot the
            categorical, LogisticRegression) fitted on train;
  evaluate: ROC AUC of the candidate on the test split, and of the production model (loaded from
            the registry by its alias) on the same rows, when there is one;
  promote:  an MLflow run with params and metrics, log_model, register the version, and set the
            alias `production` when the gates pass (AUC >= 0.6, not worse than production).
The fifth argument says how log_model gets the model's pip requirements: "infer" (MLflow's
default) or "given". Prints one JSON line: seconds per step and in all (after the imports), the import time, the
outcome."""
import time

started_imports = time.perf_counter()
import os  # noqa: E402

# MLflow 3.17 refuses the file store unless asked (it is in maintenance mode; sqlite:// is its
# recommended local backend, which the bench passes with --mlflow-sqlite).
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
# No usage telemetry: the bench sends nothing off this machine.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402,F401
import sklearn  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

imports = time.perf_counter() - started_imports
warnings.filterwarnings("ignore")

NUMERIC = ["x1", "x2", "x3"]
CATEGORICAL = ["color"]
LABEL = "churned"


def main(csv, snapshot, tracking_uri, model_name, requirements):
    steps = {}
    t = time.perf_counter()
    # ingest
    df = pd.read_csv(csv)
    bad = df["id"].isna() | df["id"].duplicated(keep=False) | df[LABEL].isna()
    df = df[~bad]
    df.to_parquet(snapshot, index=False)
    steps["ingest"] = time.perf_counter() - t

    # train: a split stable under row order (a hash of the key), as ours is
    t = time.perf_counter()
    place = (pd.util.hash_pandas_object(df["id"], index=False).to_numpy() % 10_000) / 10_000
    train, test = df[place < 0.7], df[place >= 0.85]
    model = Pipeline([
        ("prepare", ColumnTransformer([
            ("numeric", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ])),
        ("model", LogisticRegression(C=1.0, tol=1e-6)),
    ])
    model.fit(train[NUMERIC + CATEGORICAL], train[LABEL].astype(int))
    steps["train"] = time.perf_counter() - t

    # evaluate: candidate and production on the same test rows
    t = time.perf_counter()
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    auc = roc_auc_score(test[LABEL].astype(int), model.predict_proba(test[NUMERIC + CATEGORICAL])[:, 1])
    production_auc = None
    try:
        production = client.get_model_version_by_alias(model_name, "production")
        baseline = mlflow.sklearn.load_model(f"models:/{model_name}@production")
        production_auc = roc_auc_score(test[LABEL].astype(int), baseline.predict_proba(test[NUMERIC + CATEGORICAL])[:, 1])
    except mlflow.exceptions.MlflowException:
        production = None
    steps["evaluate"] = time.perf_counter() - t

    # promote: track, log the model, register it, move the alias when the gates pass
    t = time.perf_counter()
    mlflow.set_experiment(model_name)
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 1.0, "tol": 1e-6, "rows": len(df)})
        mlflow.log_metrics({"test_roc_auc": auc, **({"production_roc_auc": production_auc} if production_auc is not None else {})})
        sample = train[NUMERIC + CATEGORICAL].head(5)
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(sample, model.predict_proba(sample)[:, 1]),
                                 # MLflow 3 saves with skops, which trusts no numpy dtype unless told.
                                 skops_trusted_types=["numpy.dtype"],
                                 # "infer" is MLflow's default: a subprocess that loads the model to see
                                 # what it imports (~11 s here); "given" names scikit-learn's pin instead.
                                 pip_requirements=None if requirements == "infer" else [f"scikit-learn=={sklearn.__version__}"])
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name)
    promoted = auc >= 0.6 and (production_auc is None or auc >= production_auc)
    if promoted:
        client.set_registered_model_alias(model_name, "production", version.version)
    steps["promote"] = time.perf_counter() - t
    print(json.dumps({
        "seconds": sum(steps.values()),
        "steps": steps,
        "imports_seconds": imports,
        "rows": len(df),
        "rocAuc": auc,
        "production_rocAuc": production_auc,
        "version": version.version,
        "promoted": bool(promoted),
        "had_production": production is not None,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:6])
