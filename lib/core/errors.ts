import { ValidationError } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * A synth-time error that names the offending prop and the rule it breaks,
 * e.g. "`partitionKeys[1].field` ('region') is not a column of `schema`".
 */
export function propError(scope: IConstruct, prop: string, rule: string): ValidationError {
  // aws-cdk-lib brands error names as literal strings; ours are fixed identifiers.
  return new ValidationError('StreamingPipelinesInvalidProp' as never, `\`${prop}\` ${rule}`, scope);
}
