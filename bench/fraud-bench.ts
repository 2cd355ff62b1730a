/** The fraud figures (bench/fraud.ts): `fraud-vs-naive`, and `fraud-scorer` once the scorer is on this branch. */
import { benchFraudVsNaive } from './fraud';
import { type Bench, wanted } from './local-ddb';

export async function benchFraud(bench: Bench): Promise<void> {
  if (wanted('fraud.naive')) await benchFraudVsNaive(bench, undefined);
}
