import { rng, seedOf } from './rng';

/**
 * Synthetic daily customer snapshots for the demo: churn depends on tenure, spend and support
 * calls in a known way, and a chosen share of rows is broken in the ways real exports break.
 */
export interface ChurnDayOptions {
  day: string;
  rows: number;
  /** Share of rows to corrupt (wrong types, out-of-range values, unknown categories, missing ids). */
  badShare: number;
  /**
   * After the pricing change: customers call support twice as often (drift in support_calls) and
   * churn now depends on the plan (basic customers leave, pro customers stay) — a model trained
   * before it gets worse, one retrained on labeled data after it gets better.
   */
  pricingChange?: boolean;
  /** Leave the churned column out: the day's snapshot as it is scored, before anyone knows. */
  unlabeled?: boolean;
  /** First customer id (days of live data use ids of their own). */
  firstId?: number;
}

const PLANS = ['basic', 'plus', 'pro'] as const;
const REGIONS = ['north', 'south', 'east', 'west'] as const;
const HEADER = 'customer_id,tenure_months,monthly_spend,support_calls,plan,region,churned';

export function generateChurnDay({ day, rows, badShare, pricingChange = false, unlabeled = false, firstId = 100000 }: ChurnDayOptions): string {
  const r = rng(seedOf(day));
  const lines = [unlabeled ? HEADER.replace(/,churned$/, '') : HEADER];
  for (let i = 0; i < rows; i++) {
    const tenure = Math.floor(r() * 72);
    const plan = PLANS[Math.floor(r() * PLANS.length)]!;
    const spend = Math.round((15 + PLANS.indexOf(plan) * 20 + r() * 30) * 100) / 100;
    const calls = r() < 0.05 ? '' : String(Math.floor(-Math.log(1 - r()) * (pricingChange ? 3 : 1.5)));
    const region = r() < 0.03 ? '' : REGIONS[Math.floor(r() * REGIONS.length)]!;
    const byPlan = pricingChange ? { basic: 1.8, plus: 0, pro: -1.8 }[plan] - 0.5 * Number(calls || 0) * 0.5 : 0;
    const logit = -1.2 - 0.04 * tenure + 0.5 * Number(calls || 0) + 0.01 * (spend - 40) + byPlan;
    const churned = r() < 1 / (1 + Math.exp(-logit));
    const cells = [String(firstId + i), String(tenure), String(spend), calls, plan, region, ...(unlabeled ? [] : [String(churned)])];
    if (r() < badShare) corrupt(cells, r);
    lines.push(cells.join(','));
  }
  return `${lines.join('\n')}\n`;
}

function corrupt(cells: string[], r: () => number): void {
  switch (Math.floor(r() * 4)) {
    case 0:
      cells[2] = String(-Math.round(r() * 100)); // negative spend
      break;
    case 1:
      cells[4] = 'enterprise'; // unknown plan
      break;
    case 2:
      cells[1] = 'n/a'; // tenure not a number
      break;
    default:
      cells[0] = ''; // missing id
  }
}
