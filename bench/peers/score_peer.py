"""Python peer of `npm run bench:score`: the script a Python user would write to score a Parquet
snapshot with an ONNX model and keep a prediction log. pyarrow reads batches, onnxruntime runs the
model (probabilities and contributions, the outputs scoreDataset fetches), pyarrow writes the key,
the features, the output and the contributions as zstd Parquet. Prints one JSON line."""
import json
import sys
import time

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq


def main(model, snapshot, out, batch, key, features):
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    started = time.perf_counter()
    inference = 0.0
    writer = None
    rows = 0
    for record in pq.ParquetFile(snapshot).iter_batches(batch_size=batch, columns=[key, *features]):
        feeds = {f: record.column(f).to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, 1) for f in features}
        t = time.perf_counter()
        probabilities, contributions = session.run(["probabilities", "contributions"], feeds)
        inference += time.perf_counter() - t
        output = probabilities[:, -1] if probabilities.ndim == 2 else probabilities
        width = contributions.shape[1]
        table = pa.table({
            key: record.column(key),
            "features": pa.StructArray.from_arrays([record.column(f) for f in features], names=features),
            "output": pa.array(output.astype(np.float64)),
            "label": pa.array(output >= 0.5),
            "contributions": pa.FixedSizeListArray.from_arrays(pa.array(contributions.astype(np.float32).ravel()), width),
        })
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema, compression="zstd")
        writer.write_table(table)
        rows += len(table)
    writer.close()
    print(json.dumps({"seconds": time.perf_counter() - started, "inference_seconds": inference, "rows": rows}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6].split(","))
