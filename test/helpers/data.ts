import * as fs from 'node:fs';
import type { ContractInput } from '../../src/contract/schema';
import { rng } from '../../src/synthetic/rng';

export interface PersonRow {
  id: number;
  age: number;
  income: number | null;
  city: string;
  active: boolean;
}

export const CITIES = ['Berlin', 'Lagos', 'Lima', 'Osaka', 'Québec'];

export function people(n: number, seed = 1): PersonRow[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    age: Math.round((18 + r() * 60) * 10) / 10,
    income: r() < 0.1 ? null : Math.round(20000 + r() * 80000),
    city: CITIES[Math.floor(r() * CITIES.length)]!,
    active: r() < 0.7,
  }));
}

export function toCsv(header: string[], rows: Array<Array<string | number | boolean | null>>, delimiter = ','): string {
  const cell = (v: string | number | boolean | null) => {
    if (v === null) return '';
    const s = String(v);
    return /[",;\n\r]/.test(s) || s.includes(delimiter) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [header.map(cell), ...rows.map((row) => row.map(cell))].map((r) => r.join(delimiter)).join('\n') + '\n';
}

export function writePeopleCsv(file: string, rows: PersonRow[]): void {
  fs.writeFileSync(
    file,
    toCsv(
      ['id', 'age', 'income', 'city', 'active'],
      rows.map((p) => [p.id, p.age, p.income, p.city, p.active]),
    ),
  );
}

export const peopleContract: ContractInput = {
  columns: [
    { name: 'id', type: 'integer', nullable: false },
    { name: 'age', type: 'double', nullable: false, min: 0, max: 120 },
    { name: 'income', type: 'double', nullable: true, min: 0 },
    { name: 'city', type: 'string', nullable: false, allowed: CITIES },
    { name: 'active', type: 'boolean', nullable: false },
  ],
  key: ['id'],
  label: 'active',
};

/** Independent reference statistics, computed the textbook way in plain JS. */
export function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const variance = sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  const quantile = (q: number) => {
    const pos = (n - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  };
  return { n, min: sorted[0]!, max: sorted[n - 1]!, mean, std: Math.sqrt(variance), quantile, distinct: new Set(sorted).size };
}
