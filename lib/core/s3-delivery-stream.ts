import { Stack } from 'aws-cdk-lib';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type { Construct } from 'constructs';

/** The stack-level region→CIDR mapping the Firehose L2 adds for destinations inside a VPC (Redshift, OpenSearch, Splunk). */
const CIDR_MAPPING_ID = '@aws-cdk/aws-kinesisfirehose.CidrBlocks';

/**
 * A Firehose L2 delivery stream to S3, without the L2's region→CIDR mapping. The L2 renders
 * that mapping in every env-agnostic stack for its `connections`, which only a VPC destination
 * uses; an S3 destination never references it, so it was an unused Mapping (cfn-lint W7001).
 * A mapping that was in the stack before (another delivery stream's) is left alone.
 * `connections` of the returned stream must not be used (it would point at the removed mapping).
 */
export function s3DeliveryStream(scope: Construct, id: string, props: firehose.DeliveryStreamProps): firehose.DeliveryStream {
  const stack = Stack.of(scope);
  const hadMapping = stack.node.tryFindChild(CIDR_MAPPING_ID) !== undefined;
  const stream = new firehose.DeliveryStream(scope, id, props);
  const mapping = stack.node.tryFindChild(CIDR_MAPPING_ID);
  // The tree keeps the id with '/' escaped, so remove it by the child's own id.
  if (!hadMapping && mapping) stack.node.tryRemoveChild(mapping.node.id);
  return stream;
}
