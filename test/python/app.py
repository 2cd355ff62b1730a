"""A Python user's CDK app on cdk-streaming-pipelines, synthesized by `npm test`.

It uses the jsii-built wheel (dist/python) with aws-cdk-lib and constructs from
PyPI: a StreamingLake, a ReplayArchive on the lake's stream and a StreamConsumer
whose BundledFunction runs the example app's customer-totals handler (an asset
bundled by `npm run build`, as a user bundles their own Node.js handler).

Run it as `cdk synth` would: `python app.py` with CDK_OUTDIR set (the default
is cdk.out beside the current directory).
"""
import os

from aws_cdk import App, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_streaming_pipelines import (
    BundledFunction,
    ConsumerOrdering,
    EventTimeFormat,
    EventTimeOptions,
    IdempotencyTable,
    IngestStream,
    ObjectLockMode,
    PartitionKey,
    ReplayArchive,
    StreamConsumer,
    StreamingLake,
    ThroughputIntent,
    TimeGranularity,
)

# The example handler's bundle; `npm run build` writes it (examples/customer-totals/index.ts).
CUSTOMER_TOTALS_ASSET = os.environ.get(
    "CUSTOMER_TOTALS_ASSET",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "examples", "customer-totals"),
)


class ClickstreamStack(Stack):
    """Clickstream events into an hourly Parquet lake, archived for replay, summed per customer."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        lake = StreamingLake(
            self,
            "Lake",
            schema=[
                glue.Column(name="event_id", type=glue.Schema.STRING),
                glue.Column(name="event_time", type=glue.Schema.STRING),
                glue.Column(name="customer_id", type=glue.Schema.BIG_INT),
                glue.Column(name="region", type=glue.Schema.STRING),
                glue.Column(name="tenant", type=glue.Schema.STRING),
                glue.Column(name="amount", type=glue.Schema.decimal(12, 2)),
                glue.Column(name="device", type=glue.Schema.struct([glue.Column(name="os", type=glue.Schema.STRING)])),
            ],
            # Partitions come from the payload's event time, not Firehose's arrival time.
            event_time=EventTimeOptions(
                field="event_time", format=EventTimeFormat.ISO_8601_UTC, granularity=TimeGranularity.HOUR
            ),
            partition_keys=[
                PartitionKey(field="region", values=["us", "eu", "apac"]),  # enum projection -> p_region
                PartitionKey(field="tenant"),  # injected projection -> p_tenant
            ],
            throughput=ThroughputIntent(records_per_second=2000, average_record_bytes=800),
            retention=Duration.days(7),
            raw_archive=False,  # the archive below is configured explicitly
        )

        # Every record, byte for byte, kept seven years (compliance mode) and replayable
        # into a backfill stream (never the archived stream: that would archive the replay again).
        backfill = IngestStream(self, "BackfillStream", encryption_key=lake.encryption_key, retention=Duration.days(1))
        ReplayArchive(
            self,
            "Archive",
            stream=lake.stream,
            encryption_key=lake.encryption_key,
            object_lock={"retention": Duration.days(2555), "mode": ObjectLockMode.COMPLIANCE},
            replay_targets=[backfill.stream],
            write_share=0.25,
            monitor=lake.monitor,
        )

        totals = dynamodb.Table(
            self,
            "Totals",
            partition_key=dynamodb.Attribute(name="customerId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=lake.encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        idempotency = IdempotencyTable(self, "Idempotency", encryption_key=lake.encryption_key)
        fn = BundledFunction(
            self,
            "CustomerTotalsFunction",
            handler="customer-totals",
            code=lambda_.Code.from_asset(CUSTOMER_TOTALS_ASSET),
            environment={"TOTALS_TABLE": totals.table_name, "IDEMPOTENCY_TABLE": idempotency.table.table_name},
            encryption_key=lake.encryption_key,
            synchronous_invoker="A Lambda event-source mapping invokes this function synchronously.",
        ).function
        totals.grant(fn, "dynamodb:UpdateItem")
        lake.encryption_key.grant(fn, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        idempotency.grant_store(fn)

        consumer = StreamConsumer(
            self,
            "CustomerTotals",
            function=fn,
            stream=lake.stream,
            encryption_key=lake.encryption_key,
            ordering=ConsumerOrdering.PER_KEY,
        )
        lake.monitor.add_consumer(
            "CustomerTotals",
            function=fn,
            max_record_age=consumer.max_record_age,
            failure_bucket=consumer.failure_bucket,
            event_source_mapping_id=consumer.event_source.event_source_mapping_id,
        )


def build_app(outdir: str | None = None) -> App:
    """The app with its one stack; `outdir` as for App (default: CDK_OUTDIR or cdk.out)."""
    app = App(outdir=outdir) if outdir else App()
    ClickstreamStack(app, "PythonClickstream")
    return app


if __name__ == "__main__":
    build_app().synth()
