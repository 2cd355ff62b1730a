import { Stack } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { addDefaultLake, addFullLake } from '../bin/examples';
import { applyAllPacks, formatFindings, synthFindings } from '../bin/compliance';
import { newApp } from './support/nag';

/**
 * Consumers created with `cdk init` carry the currently recommended feature
 * flags; the lake must stay deployable and nag-clean under them too.
 */
test('both configurations are nag-clean under the currently recommended feature flags', () => {
  const app = newApp({ ...cxapi.CURRENTLY_RECOMMENDED_FLAGS });
  applyAllPacks(app);
  addDefaultLake(new Stack(app, 'Defaults'));
  addFullLake(new Stack(app, 'Full'));
  const findings = synthFindings(app);
  expect(formatFindings(findings)).toBe('');
});
