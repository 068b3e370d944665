"""Python peer of `npm run bench:peers:drift`: Evidently's data-drift preset (evidently 0.7) on the
same reference and current Parquet files our monitoring pass reads. pandas reads both files,
Report([DataDriftPreset()]) runs with Evidently's default tests per column type and size, and the
result is read back per column. Prints one JSON line: seconds (read + report), the read alone, and
the columns Evidently calls drifted."""
import json
import sys
import time

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main(reference_file, current_file, numeric, categorical):
    started = time.perf_counter()
    reference = pd.read_parquet(reference_file, columns=numeric + categorical)
    current = pd.read_parquet(current_file, columns=numeric + categorical)
    read = time.perf_counter() - started
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    report = Report([DataDriftPreset()])
    snapshot = report.run(
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
        current_data=Dataset.from_pandas(current, data_definition=definition),
    )
    result = snapshot.dict()
    seconds = time.perf_counter() - started
    # One ValueDrift metric per column, its config naming the test and threshold Evidently picked:
    # a distance (Wasserstein, Jensen-Shannon) drifts at or above it, a p-value below it.
    drifted, methods = [], {}
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if not config.get("type", "").endswith(":ValueDrift"):
            continue
        column, method, threshold = config["column"], config["method"], config["threshold"]
        methods[column] = method
        value = metric["value"]
        if (value < threshold) if "p_value" in method else (value >= threshold):
            drifted.append(column)
    print(json.dumps({"seconds": seconds, "read_seconds": read, "columns": len(methods), "methods": methods, "drifted": sorted(drifted)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [c for c in sys.argv[3].split(",") if c], [c for c in sys.argv[4].split(",") if c])
