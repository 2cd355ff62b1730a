/**
 * Not a Lambda handler: the engines' own spec check, bundled like one so that FraudPipeline can run it
 * at synth (lib/fraud-pipeline/engine-spec-check.ts) without the library importing lambda/ sources.
 * One check, two moments: a spec that synthesizes is one the scorer and closer start with.
 */
export { fraudSpecProblems } from '../shared/fraud/validate-spec';
