/**
 * The core's TopicAdmin on a kafkajs admin client. Each method is one Kafka request (plus the
 * metadata kafkajs fetches to route it); the IAM action each needs on MSK is noted, and
 * lib/handlers/kafka-topics-function.ts grants exactly those.
 */
import { ConfigResourceTypes, ConfigSource, type Admin } from 'kafkajs';
import type { TopicAdmin, TopicState } from './core';

export class KafkajsTopicAdmin implements TopicAdmin {
  constructor(private readonly admin: Admin) {}

  /** Metadata (DescribeTopic) and DescribeConfigs (DescribeTopicDynamicConfiguration). */
  public async describe(topicName: string): Promise<TopicState | undefined> {
    // Listing first: kafkajs retries metadata of an unknown topic for a long while before failing.
    if (!(await this.admin.listTopics()).includes(topicName)) return undefined;
    const meta = await this.admin.fetchTopicMetadata({ topics: [topicName] });
    const partitions = meta.topics.find((t) => t.name === topicName)?.partitions ?? [];
    const described = await this.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topicName }] });
    const configs: Record<string, string> = {};
    for (const e of described.resources[0]?.configEntries ?? []) {
      // Only what is set on the topic itself; older DescribeConfigs versions carry no source.
      const dynamic = e.configSource === undefined ? !e.isDefault && !e.readOnly : e.configSource === ConfigSource.TOPIC_CONFIG;
      if (dynamic) configs[e.configName] = e.configValue;
    }
    return {
      partitions: partitions.length,
      replicationFactor: Math.max(0, ...partitions.map((p) => p.replicas.length)),
      configs,
    };
  }

  /** CreateTopics (CreateTopic). A topic that appeared meanwhile is an error, not a silent success. */
  public async create(topicName: string, partitions: number, replicationFactor: number | undefined, configs: Record<string, string>): Promise<void> {
    const created = await this.admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic: topicName,
        numPartitions: partitions,
        // -1: the cluster's default.replication.factor (MSK Serverless takes no other).
        replicationFactor: replicationFactor ?? -1,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      }],
    });
    if (!created) throw new Error(`topic '${topicName}' already exists: it was created by someone else while this request ran`);
  }

  /** CreatePartitions (AlterTopic). */
  public async increasePartitions(topicName: string, count: number): Promise<void> {
    await this.admin.createPartitions({ topicPartitions: [{ topic: topicName, count }] });
  }

  /** AlterConfigs (AlterTopicDynamicConfiguration): replaces the topic's dynamic configs. */
  public async setConfigs(topicName: string, configs: Record<string, string>, validateOnly: boolean): Promise<void> {
    await this.admin.alterConfigs({
      validateOnly,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topicName, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
    });
  }

  /** DeleteTopics (DeleteTopic): only for a resource whose removal policy is destroy. */
  public async delete(topicName: string): Promise<void> {
    await this.admin.deleteTopics({ topics: [topicName] });
  }
}
