/**
 * Topics custom resource (MSK Serverless, where AWS::MSK::Topic does not serve): a CloudFormation
 * request in, Kafka admin calls over IAM/TLS, the response PUT to CloudFormation.
 */
import type { Admin } from 'kafkajs';
import { KafkajsTopicAdmin } from './admin';
import { putResponse, responseBody, withDeadline, type CfnRequestIds } from './cfn-response';
import { failedCreateId, handleTopicRequest, type TopicAdmin, type TopicRequest } from './core';
import { mskKafka } from '../shared/kafka/msk-iam';

type Event = TopicRequest & CfnRequestIds;

/** Time kept back from the Lambda timeout to send a FAILED response. */
const RESPONSE_MARGIN_MS = 15_000;

/**
 * The kafkajs admin, connected on first use: a Delete that keeps the topic never reaches the
 * cluster, so removing the stack works even if the cluster is already gone.
 */
class LazyTopicAdmin implements TopicAdmin {
  private admin?: Promise<Admin>;
  constructor(private readonly clusterArn: string) {}
  public describe: TopicAdmin['describe'] = async (...a) => (await this.topics()).describe(...a);
  public create: TopicAdmin['create'] = async (...a) => (await this.topics()).create(...a);
  public increasePartitions: TopicAdmin['increasePartitions'] = async (...a) => (await this.topics()).increasePartitions(...a);
  public setConfigs: TopicAdmin['setConfigs'] = async (...a) => (await this.topics()).setConfigs(...a);
  public delete: TopicAdmin['delete'] = async (...a) => (await this.topics()).delete(...a);
  public async close(): Promise<void> {
    const admin = await this.admin?.catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
  }
  private async topics(): Promise<KafkajsTopicAdmin> {
    this.admin ??= (async () => {
      const admin = (await mskKafka(this.clusterArn, 'cdk-streaming-pipelines-topics')).admin();
      await admin.connect();
      return admin;
    })();
    return new KafkajsTopicAdmin(await this.admin);
  }
}

async function run(event: Event): Promise<{ physicalResourceId: string; data: Record<string, string> }> {
  const admin = new LazyTopicAdmin(String(event.ResourceProperties.ClusterArn ?? ''));
  try {
    const outcome = await handleTopicRequest(admin, event);
    console.log(JSON.stringify({ requestType: event.RequestType, topicArn: outcome.physicalResourceId, operations: outcome.operations.map((o) => ({ ...o, configs: undefined })) }));
    return { physicalResourceId: outcome.physicalResourceId, data: outcome.data };
  } finally {
    await admin.close();
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
