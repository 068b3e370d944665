"""The model server a Python user would write for bench:serve: FastAPI + uvicorn + onnxruntime.

It serves the same ONNX file as `mlops serve` and answers the same fields per row (output,
predicted label, probabilities, per-feature contributions, a range flag), with the rows validated
by a pydantic model built from the card's features (required floats, no unknown fields), as
FastAPI users do. One process, uvicorn's defaults (uvloop and httptools with uvicorn[standard]).

    python serve_peer.py --card models/<model>/versions/<v>/card.json --port 8001
"""
import argparse
import json
import uuid
from typing import List, Union

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI
from pydantic import ConfigDict, create_model

parser = argparse.ArgumentParser()
parser.add_argument("--card", required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()

with open(args.card) as f:
    card = json.load(f)
features = [feature["name"] for feature in card["features"]]
classes = card["classes"]
explanation = card.get("explanation")
fetches = ["probabilities"] + ([explanation["output"]] if explanation else [])
# The acceptable range as `mlops serve` computes it: the card's expected range widened by 10% on
# the log-odds scale (src/scoring/range.ts).
expected = card["expectedPredictionRange"]
logit = lambda p: float(np.log(min(1 - 1e-7, max(1e-7, p)) / (1 - min(1 - 1e-7, max(1e-7, p)))))
sigmoid = lambda z: float(1 / (1 + np.exp(-z)))
lo, hi = logit(expected["min"]), logit(expected["max"])
low, high = sigmoid(lo - 0.1 * (hi - lo)), sigmoid(hi + 0.1 * (hi - lo))

options = ort.SessionOptions()
session = ort.InferenceSession(card["onnx"]["uri"], options, providers=["CPUExecutionProvider"])

Row = create_model(
    "Row",
    __config__=ConfigDict(extra="forbid"),
    **{name: (float, ...) for name in features},
)

app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.post("/predict")
def predict(body: Union[Row, List[Row]]):
    rows = body if isinstance(body, list) else [body]
    feeds = {
        name: np.array([[getattr(row, name)] for row in rows], dtype=np.float32)
        for name in features
    }
    outputs = session.run(fetches, feeds)
    probabilities = outputs[0]
    contributions = outputs[1] if explanation else None
    predictions = []
    for i in range(len(rows)):
        p = probabilities[i]
        output = float(p[1])
        prediction = {
            "output": output,
            "predictedLabel": classes[int(np.argmax(p))],
            "flag": "out-of-range" if output < low or output > high else None,
            "probabilities": {c: float(p[k]) for k, c in enumerate(classes)},
        }
        if contributions is not None:
            prediction["contributions"] = {
                c: float(contributions[i][j]) for j, c in enumerate(explanation["columns"])
            }
        predictions.append(prediction)
    return {"requestId": str(uuid.uuid4()), "modelVersion": card["version"], "predictions": predictions}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
