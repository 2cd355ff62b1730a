/**
 * Custom resource handler (CDK Provider framework) turning on multi-VPC private connectivity for
 * IAM on an MSK cluster after it exists. `MODE` says which framework role this function plays:
 * `onEvent` or `isComplete`. Needs kafka:DescribeClusterV2 and kafka:UpdateConnectivity on the cluster.
 */
import { DescribeClusterV2Command, KafkaClient, UpdateConnectivityCommand } from '@aws-sdk/client-kafka';
import { isComplete, onEvent, type ClusterInfoView, type ConnectivityEvent, type MskConnectivityApi } from './core';

const mode = process.env.MODE;
if (mode !== 'onEvent' && mode !== 'isComplete') throw new Error(`kafka-connectivity: MODE must be onEvent or isComplete; got '${mode}'`);
const client = new KafkaClient({});

const api: MskConnectivityApi = {
  async describeClusterV2(clusterArn) {
    const out = await client.send(new DescribeClusterV2Command({ ClusterArn: clusterArn }));
    return (out.ClusterInfo ?? {}) as ClusterInfoView;
  },
  async updateConnectivity(request) {
    await client.send(new UpdateConnectivityCommand(request));
  },
};

export async function handler(event: ConnectivityEvent): Promise<unknown> {
  return mode === 'onEvent' ? onEvent(api, event) : isComplete(api, event);
}
