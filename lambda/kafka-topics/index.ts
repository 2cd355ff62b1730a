/**
 * Topics custom resource (MSK Serverless, where AWS::MSK::Topic does not serve): a CloudFormation
 * request in, Kafka admin calls over IAM/TLS, the response PUT to CloudFormation.
 */
import type { Admin } from 'kafkajs';
import { KafkajsTopicAdmin } from './admin';
import { putResponse, responseBody, withDeadline, type CfnRequestIds } from './cfn-response';
import { failedCreateId, handleTopicRequest, type TopicRequest } from './core';
import { mskKafka } from '../shared/kafka/msk-iam';

type Event = TopicRequest & CfnRequestIds;

/** Time kept back from the Lambda timeout to send a FAILED response. */
const RESPONSE_MARGIN_MS = 15_000;

async function run(event: Event): Promise<{ physicalResourceId: string; data: Record<string, string> }> {
  const clusterArn = String(event.ResourceProperties.ClusterArn ?? '');
  let admin: Admin | undefined;
  try {
    admin = (await mskKafka(clusterArn, 'cdk-streaming-pipelines-topics')).admin();
    await admin.connect();
    const outcome = await handleTopicRequest(new KafkajsTopicAdmin(admin), event);
    console.log(JSON.stringify({ requestType: event.RequestType, topicArn: outcome.physicalResourceId, operations: outcome.operations.map((o) => ({ ...o, configs: undefined })) }));
    return { physicalResourceId: outcome.physicalResourceId, data: outcome.data };
  } finally {
    await admin?.disconnect().catch(() => undefined);
  }
}

export async function handler(event: Event, context: { getRemainingTimeInMillis(): number }): Promise<void> {
  let body;
  try {
    const out = await withDeadline(run(event), context.getRemainingTimeInMillis() - RESPONSE_MARGIN_MS);
    body = responseBody(event, { ok: true, ...out });
  } catch (e) {
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.error(JSON.stringify({ requestType: event.RequestType, error: reason }));
    // A failed Create gets an id no topic has, so the rollback's Delete touches nothing.
    const physicalResourceId = event.RequestType === 'Create' ? failedCreateId(event.RequestId) : event.PhysicalResourceId ?? failedCreateId(event.RequestId);
    body = responseBody(event, { ok: false, physicalResourceId, reason });
  }
  await putResponse(event.ResponseURL, body);
}
