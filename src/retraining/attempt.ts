import type { TrainingWindow } from './request';

// What one attempt of the retraining loop trained on and was judged on, and the baseline proof:
// made by the retraining activities (retraining/window.ts), kept in the loop's status.

/** A dataset version and how many rows of it count. */
export interface RowsRef {
  dataset: string;
  version: string;
  rows: number;
}

/** The data of one attempt, as the retraining activity prepared it (every version is concrete). */
export interface AttemptData {
  /** The window trained on: the one asked for, or `original` when there were too few labeled production rows (see notes). */
  window: TrainingWindow;
  trainedOn: RowsRef & { originalRows: number; productionRows: number };
  /** `labeledProduction`: labeled production rows neither model trained on; else the training data's test split (or the dataset asked for). */
  judgedOn: RowsRef & { labeledProduction: boolean };
  /** All labeled production rows found for the model (a dataset version with lineage). */
  labeledProduction?: RowsRef;
  notes: string[];
}

export interface BaselineProof {
  /** The production version that was retrained from its own training data. */
  version: string;
  primaryMetric: string;
  registered: number | null;
  reproduced: number | null;
  tolerance: number;
  passed: boolean;
  at: string;
}
