"""scikit-learn side of `npm run bench:train`: the same train/validation Parquet files, timed fits."""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(folder, label):
    train = pd.read_parquet(f"{folder}/train.parquet")
    valid = pd.read_parquet(f"{folder}/validation.parquet")
    features = [c for c in train.columns if c != label]
    x, y = train[features].to_numpy(np.float64), train[label].astype(int).to_numpy()
    xv, yv = valid[features].to_numpy(np.float64), valid[label].astype(int).to_numpy()
    results = {}
    start = time.perf_counter()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(solver="lbfgs", C=1.0, max_iter=200, tol=1e-6))
    logistic.fit(x, y)
    results["logistic"] = {"seconds": time.perf_counter() - start, "auc": roc_auc_score(yv, logistic.predict_proba(xv)[:, 1])}
    start = time.perf_counter()
    hgb = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=31, max_depth=6,
                                         min_samples_leaf=20, l2_regularization=1.0, max_bins=255, early_stopping=False)
    hgb.fit(x, y)
    results["gbdt"] = {"seconds": time.perf_counter() - start, "auc": roc_auc_score(yv, hgb.predict_proba(xv)[:, 1])}
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
