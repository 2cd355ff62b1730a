import * as kms from 'aws-cdk-lib/aws-kms';
import { IdempotencyTable } from '../lib';
import { expectNagClean } from './support/nag';
import { synth, userFunction } from './support/template';

test('the idempotency table has the keys the store expects, TTL, on-demand, KMS and PITR', () => {
  const t = synth((s) => new IdempotencyTable(s, 'Idem', { encryptionKey: new kms.Key(s, 'K', { enableKeyRotation: true }) }));
  const table = Object.values(t.findResources('AWS::DynamoDB::Table'))[0] as any;
  expect(table.Properties).toMatchObject({
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    BillingMode: 'PAY_PER_REQUEST',
    SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
  });
  expect(table.DeletionPolicy).toBe('Retain');
});

test('grantStore allows exactly the store\'s actions, no wildcards', () => {
  const t = synth((s) => {
    const idem = new IdempotencyTable(s, 'Idem', { encryptionKey: new kms.Key(s, 'K', { enableKeyRotation: true }) });
    const fn = userFunction(s, 'Fn');
    idem.grantStore(fn);
  });
  const statements = (Object.values(t.findResources('AWS::IAM::Policy'))[0] as any).Properties.PolicyDocument.Statement;
  const ddb = statements.find((s: any) => JSON.stringify(s.Action).includes('dynamodb'));
  // Transactions need the per-action permission of each item: Put (claim), Update (complete), Delete (release), ConditionCheck.
  expect(ddb.Action).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchGetItem', 'dynamodb:GetItem']);
  // Table.grant() grants nothing on the table's key; every call to a CMK table would be denied without this.
  const kmsStatement = statements.find((s: any) => JSON.stringify(s.Action).includes('kms:'));
  expect(kmsStatement.Action).toEqual(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']);
  expect(JSON.stringify(statements)).not.toMatch(/\*"/);
});

test('the idempotency table is nag-clean', () => {
  expectNagClean((s) => new IdempotencyTable(s, 'Idem', { encryptionKey: new kms.Key(s, 'K', { enableKeyRotation: true }) }));
});

test('grantStore wires the function: IDEMPOTENCY_TABLE names the table the runtime\'s batchHandler reads by default', () => {
  const t = synth((s) => {
    const idem = new IdempotencyTable(s, 'Idem', { encryptionKey: new kms.Key(s, 'K', { enableKeyRotation: true }) });
    const fn = userFunction(s, 'Fn');
    idem.grantStore(fn);
    idem.grantStore(fn); // granting twice is harmless
  });
  const [tableId] = Object.keys(t.findResources('AWS::DynamoDB::Table'));
  t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { IDEMPOTENCY_TABLE: { Ref: tableId } } } });
});

test('one function cannot read two idempotency tables from IDEMPOTENCY_TABLE', () => {
  expect(() => synth((s) => {
    const key = new kms.Key(s, 'K', { enableKeyRotation: true });
    const fn = userFunction(s, 'Fn');
    new IdempotencyTable(s, 'A', { encryptionKey: key }).grantStore(fn);
    new IdempotencyTable(s, 'B', { encryptionKey: key }).grantStore(fn);
  })).toThrow(/Fn already reads IDEMPOTENCY_TABLE from TestStack\/A; a function using two idempotency tables must pass idempotency.tableName/);
});
