/**
 * Limited-memory BFGS with a backtracking (Armijo) line search: the optimizer scikit-learn's
 * LogisticRegression uses by default, small enough to own. `evaluate` returns the loss and writes
 * the gradient into `grad`.
 */
export type Objective = (w: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this (scikit-learn's tol). */
  tolerance?: number;
  memory?: number;
}

export interface LbfgsResult {
  w: Float64Array;
  loss: number;
  iterations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

export function lbfgs(evaluate: Objective, w0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIterations = options.maxIterations ?? 200;
  const tolerance = options.tolerance ?? 1e-6;
  const m = options.memory ?? 10;
  const n = w0.length;
  let w = Float64Array.from(w0);
  let grad = new Float64Array(n);
  let loss = evaluate(w, grad);
  const sHistory: Float64Array[] = [];
  const yHistory: Float64Array[] = [];
  const rhoHistory: number[] = [];
  const direction = new Float64Array(n);
  const alpha = new Array<number>(m);

  for (let iter = 0; iter < maxIterations; iter++) {
    if (maxAbs(grad) < tolerance) return { w, loss, iterations: iter, converged: true };
    // Two-loop recursion: direction = -H·grad.
    direction.set(grad);
    for (let k = sHistory.length - 1; k >= 0; k--) {
      alpha[k] = rhoHistory[k]! * dot(sHistory[k]!, direction);
      const y = yHistory[k]!;
      for (let i = 0; i < n; i++) direction[i]! -= alpha[k]! * y[i]!;
    }
    if (sHistory.length > 0) {
      const last = sHistory.length - 1;
      const gamma = dot(sHistory[last]!, yHistory[last]!) / dot(yHistory[last]!, yHistory[last]!);
      for (let i = 0; i < n; i++) direction[i]! *= gamma;
    } else {
      const scale = 1 / Math.max(1, Math.sqrt(dot(grad, grad)));
      for (let i = 0; i < n; i++) direction[i]! *= scale;
    }
    for (let k = 0; k < sHistory.length; k++) {
      const beta = rhoHistory[k]! * dot(yHistory[k]!, direction);
      const s = sHistory[k]!;
      for (let i = 0; i < n; i++) direction[i]! += s[i]! * (alpha[k]! - beta);
    }
    for (let i = 0; i < n; i++) direction[i] = -direction[i]!;

    let slope = dot(grad, direction);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      sHistory.length = yHistory.length = rhoHistory.length = 0;
      for (let i = 0; i < n; i++) direction[i] = -grad[i]!;
      slope = dot(grad, direction);
    }
    let step = 1;
    const next = new Float64Array(n);
    const nextGrad = new Float64Array(n);
    let nextLoss = Number.POSITIVE_INFINITY;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) next[i] = w[i]! + step * direction[i]!;
      nextLoss = evaluate(next, nextGrad);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(nextLoss < loss) && Math.abs(nextLoss - loss) <= 1e-12 * Math.max(1, Math.abs(loss))) {
      return { w, loss, iterations: iter, converged: true };
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = next[i]! - w[i]!;
      y[i] = nextGrad[i]! - grad[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      sHistory.push(s);
      yHistory.push(y);
      rhoHistory.push(1 / sy);
      if (sHistory.length > m) {
        sHistory.shift();
        yHistory.shift();
        rhoHistory.shift();
      }
    }
    w = next;
    grad = nextGrad;
    loss = nextLoss;
  }
  return { w, loss, iterations: maxIterations, converged: maxAbs(grad) < tolerance };
}
