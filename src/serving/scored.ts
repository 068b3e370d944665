import type { ModelCard } from '../models/card';
import { rowArgmax } from '../metrics';
import { FLAG_NAMES, rangeFlag } from '../scoring/score';

/** One session.run's outputs, and where a request's rows start in them (micro-batching shares a run). */
export interface Inferred {
  raw: Float32Array;
  values: ArrayLike<number>;
  contributions: Float32Array | undefined;
  offset: number;
}

/** What one row gets back: the fields of the prediction log's row, named for applications. */
export interface RowPrediction {
  /** The key the prediction log keeps for the row (labels join on it): the row's key columns, else request id (and row index). */
  key: string;
  output: number | null;
  predictedLabel: string | null;
  /** Per class (classification). */
  probabilities?: Record<string, number>;
  flag: (typeof FLAG_NAMES)[number];
  contributions?: Record<string, number>;
}

/**
 * A request's predictions as columns over the model's outputs: what the columnar wire format
 * (Open Inference Protocol) sends as tensors and the prediction log appends, without an object
 * per row. `toRows()` builds the per-row objects of the JSON rows API, once.
 */
export class ScoredBatch {
  readonly classes: number;
  readonly width: number;
  /** Range-check codes per row (0 none; FLAG_NAMES). */
  readonly flagCodes: Uint8Array;
  private rowObjects: RowPrediction[] | undefined;

  constructor(
    readonly card: ModelCard,
    readonly rows: number,
    readonly keys: readonly string[],
    private readonly inferred: Inferred,
    range: { min: number; max: number },
  ) {
    this.classes = card.classes.length;
    this.width = card.explanation?.columns.length ?? 0;
    this.flagCodes = new Uint8Array(rows);
    for (let r = 0; r < rows; r++) this.flagCodes[r] = rangeFlag(this.value(r), range);
  }

  private value(r: number): number {
    return this.inferred.values[this.inferred.offset + r]!;
  }

  /** Row `r`'s output as computed, NaN and ±Infinity included (output() says null for those). */
  rawOutput(r: number): number {
    return this.value(r);
  }

  /** Index of row `r`'s predicted class in card.classes; -1 for a regressor or a non-finite output. */
  labelIndex(r: number): number {
    if (this.classes === 0 || !Number.isFinite(this.value(r))) return -1;
    return rowArgmax(this.inferred.raw, this.inferred.offset + r, this.classes);
  }

  output(r: number): number | null {
    const v = this.value(r);
    return Number.isFinite(v) ? v : null;
  }

  predictedLabel(r: number): string | null {
    const k = this.labelIndex(r);
    return k < 0 ? null : this.card.classes[k]!;
  }

  flag(r: number): (typeof FLAG_NAMES)[number] {
    return FLAG_NAMES[this.flagCodes[r] as 0 | 1 | 2];
  }

  get hasContributions(): boolean {
    return this.inferred.contributions !== undefined;
  }

  /** Contribution of explanation column `j` to row `r`'s output (undefined without contributions). */
  contribution(r: number, j: number): number | undefined {
    return this.inferred.contributions?.[(this.inferred.offset + r) * this.width + j];
  }

  /** This request's outputs as in the model's output tensor: rows × 1 (the output values as float32). */
  outputTensor(): Float32Array {
    const out = new Float32Array(this.rows);
    for (let r = 0; r < this.rows; r++) out[r] = this.value(r);
    return out;
  }

  /** rows × classes, row-major, a view into the run's own output (no copy). */
  probabilitiesTensor(): Float32Array | undefined {
    if (this.classes === 0) return undefined;
    const { raw, offset } = this.inferred;
    return raw.subarray(offset * this.classes, (offset + this.rows) * this.classes);
  }

  /** rows × explanation columns, row-major, a view (no copy). */
  contributionsTensor(): Float32Array | undefined {
    const { contributions, offset } = this.inferred;
    return contributions?.subarray(offset * this.width, (offset + this.rows) * this.width);
  }

  toRows(): RowPrediction[] {
    if (this.rowObjects) return this.rowObjects;
    const { card, classes, width } = this;
    const { raw, offset, contributions } = this.inferred;
    const columns = card.explanation?.columns ?? [];
    const predictions: RowPrediction[] = [];
    for (let r = 0; r < this.rows; r++) {
      const i = offset + r;
      const p: RowPrediction = { key: this.keys[r]!, output: this.output(r), predictedLabel: this.predictedLabel(r), flag: this.flag(r) };
      // Plain loops, not Object.fromEntries(map(...)): no [name, value] pair array per field and row.
      if (classes > 0) {
        const probabilities: Record<string, number> = {};
        for (let k = 0; k < classes; k++) probabilities[card.classes[k]!] = raw[i * classes + k]!;
        p.probabilities = probabilities;
      }
      if (contributions) {
        const byColumn: Record<string, number> = {};
        for (let j = 0; j < width; j++) byColumn[columns[j]!] = contributions[i * width + j]!;
        p.contributions = byColumn;
      }
      predictions.push(p);
    }
    return (this.rowObjects = predictions);
  }
}
