import { describe, expect, it } from 'vitest';
import { sortFloat32 } from '../src/training/gbdt-bins';

describe('GBDT binning', () => {
  it('sorts float32 values as TypedArray#sort does (negatives, −0 and +0, infinities, subnormals, ties)', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const special = [0, -0, Infinity, -Infinity, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1];
    const values = Float32Array.from({ length: 50_000 }, (_, i) =>
      i % 10 === 0 ? special[(i / 10) % special.length]! : i % 3 === 0 ? Math.round(random() * 20 - 10) : (random() - 0.5) * 10 ** Math.floor(random() * 20 - 10),
    );
    const expected = values.slice().sort();
    const sorted = sortFloat32(values);
    expect(sorted.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) if (!Object.is(sorted[i], expected[i])) expect([i, sorted[i]]).toEqual([i, expected[i]]);
    expect(sortFloat32(new Float32Array(0)).length).toBe(0);
    expect(Array.from(sortFloat32(Float32Array.of(2, -0, 0, -3)))).toEqual([-3, -0, 0, 2]);
  });
});
