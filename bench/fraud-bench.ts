/** The fraud figures: `fraud-scorer` (bench/fraud-scorer.ts) and `fraud-vs-naive` (bench/fraud.ts). */
import { benchFraudVsNaive } from './fraud';
import { benchFraudScorer, runScorer } from './fraud-scorer';
import { type Bench, wanted } from './local-ddb';

export async function benchFraud(bench: Bench): Promise<void> {
  if (wanted('fraud.scorer')) await benchFraudScorer(bench);
  if (wanted('fraud.naive')) await benchFraudVsNaive(bench, runScorer);
}
