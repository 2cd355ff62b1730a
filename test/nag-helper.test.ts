import { Duration } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { expectNagClean } from './support/nag';

/** The helper every construct test relies on must really fail, on errors and on warnings. */
describe('expectNagClean', () => {
  test('fails listing each unacknowledged error by construct path and rule id', () => {
    expect(() => expectNagClean((s) => new s3.Bucket(s, 'Plain'))).toThrow(
      /NagStack\/Plain\/Resource {2}AwsSolutions-S1 {2}\[error\][\s\S]*NagStack\/Plain\/Resource {2}HIPAA\.Security-S3BucketSSLRequestsOnly[\s\S]*PCI\.DSS\.321-S3DefaultEncryptionKMS/,
    );
  });

  test('fails on a warning alone', () => {
    expect(() => expectNagClean((s) => {
      const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
      new kinesis.Stream(s, 'Stream', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key, retentionPeriod: Duration.days(7) });
    })).toThrow(/NagStack\/Stream\/Resource {2}AwsSolutions-KDS3 {2}\[warning\]/);
  });
});
