"""Python peers of `npm run bench:peers:ingest`: what a Python user would write to validate a CSV
against a contract, drop the failing rows and write the rest to Parquet.

  pandas: pd.read_csv (pyarrow engine) -> pandera DataFrameSchema.validate(lazy=True) -> drop the
          rows named in the failure cases -> DataFrame.to_parquet (zstd).
  polars: pl.read_csv -> one boolean expression of the same checks -> filter -> write_parquet (zstd).

The contract comes as JSON (the same ContractInput bench:ingest uses: types, nullability, min/max,
allowed sets, key uniqueness; every copy of a duplicated key fails, as in our ingest). Both write
the rejected rows' keys to `<out>.rejected.parquet` so the bench can compare them with our
quarantine. Prints one JSON line: seconds (read + validate + write), accepted, rejected."""
import json
import sys
import time


def pandas_peer(csv, contract, out):
    import pandas as pd
    import pandera.pandas as pa

    started = time.perf_counter()
    df = pd.read_csv(csv, engine="pyarrow")
    key = contract["key"]
    columns = {}
    for c in contract["columns"]:
        checks = []
        if "min" in c:
            checks.append(pa.Check.ge(c["min"]))
        if "max" in c:
            checks.append(pa.Check.le(c["max"]))
        if "allowed" in c:
            checks.append(pa.Check.isin(c["allowed"]))
        dtype = {"integer": "int64", "double": "float64", "string": "str", "boolean": "bool"}[c["type"]]
        columns[c["name"]] = pa.Column(dtype, checks=checks, nullable=c.get("nullable", True), coerce=True)
    schema = pa.DataFrameSchema(columns, unique=key if key else None, report_duplicates="all")
    try:
        schema.validate(df, lazy=True)
        failing = pd.Index([])
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        # Row-level failures carry the row's index; schema-level ones (a wrong column type) do not.
        failing = pd.Index(cases["index"].dropna().astype("int64").unique())
    accepted = df.drop(index=failing)
    accepted.to_parquet(out, compression="zstd", index=False)
    df.loc[failing, key].to_parquet(out + ".rejected.parquet", index=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "accepted": len(accepted), "rejected": len(failing)}


def polars_peer(csv, contract, out):
    import polars as pl

    started = time.perf_counter()
    df = pl.read_csv(csv)
    ok = []
    for c in contract["columns"]:
        col = pl.col(c["name"])
        checks = []
        if "min" in c:
            checks.append(col >= c["min"])
        if "max" in c:
            checks.append(col <= c["max"])
        if "allowed" in c:
            checks.append(col.is_in(c["allowed"]))
        if checks:
            passed = pl.all_horizontal(checks)
            # A null passes the value checks when the column may be null (fill_null), never otherwise.
            ok.append(passed.fill_null(c.get("nullable", True)))
        if not c.get("nullable", True):
            ok.append(col.is_not_null())
    key = contract["key"]
    if key:
        ok.append(~pl.struct(key).is_duplicated() if len(key) > 1 else ~pl.col(key[0]).is_duplicated())
    valid = pl.all_horizontal(ok)
    df = df.with_columns(valid.alias("__valid"))
    accepted = df.filter(pl.col("__valid")).drop("__valid")
    accepted.write_parquet(out, compression="zstd")
    rejected = df.filter(~pl.col("__valid")).select(key)
    rejected.write_parquet(out + ".rejected.parquet")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "accepted": accepted.height, "rejected": rejected.height}


if __name__ == "__main__":
    peer, csv, contract_file, out = sys.argv[1:5]
    with open(contract_file) as f:
        contract = json.load(f)
    result = {"pandas": pandas_peer, "polars": polars_peer}[peer](csv, contract, out)
    print(json.dumps(result))
