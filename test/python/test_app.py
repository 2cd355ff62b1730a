"""Synthesizes app.py as a Python user would and asserts on its CloudFormation.

Run by scripts/python-consumer.sh (from `npm test`, test/python-consumer.test.ts) in the
venv it builds: our jsii-built wheel with the pinned aws-cdk-lib and constructs.
"""
import hashlib
import json
import os
import tempfile
import unittest

from aws_cdk.assertions import Match, Template

from app import build_app

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
STACK = "PythonClickstream"


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class PythonAppTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.outdir = os.environ.get("CDK_OUTDIR") or tempfile.mkdtemp()
        build_app(cls.outdir).synth()
        with open(os.path.join(cls.outdir, f"{STACK}.template.json")) as f:
            cls.json = json.load(f)
        cls.template = Template.from_json(cls.json)

    def resources(self, type_: str) -> dict:
        return {k: r for k, r in self.json["Resources"].items() if r["Type"] == type_}

    def test_lake_delivers_snappy_parquet_into_event_time_partitions(self) -> None:
        self.template.has_resource_properties(
            "AWS::KinesisFirehose::DeliveryStream",
            {
                "ExtendedS3DestinationConfiguration": Match.object_like(
                    {
                        "DataFormatConversionConfiguration": Match.object_like(
                            {
                                "Enabled": True,
                                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}},
                            }
                        ),
                        "DynamicPartitioningConfiguration": Match.object_like({"Enabled": True}),
                        "Prefix": "data/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/"
                        "p_region=!{partitionKeyFromQuery:p_region}/p_tenant=!{partitionKeyFromQuery:p_tenant}/",
                    }
                )
            },
        )

    def test_lake_table_is_queryable_through_partition_projection(self) -> None:
        self.template.has_resource_properties(
            "AWS::Glue::Table",
            {
                "TableInput": Match.object_like(
                    {
                        "Parameters": Match.object_like(
                            {
                                "classification": "parquet",
                                "projection.enabled": "true",
                                "projection.dt.type": "date",
                                "projection.hour.type": "integer",
                                "projection.p_region.type": "enum",
                                "projection.p_region.values": "us,eu,apac",
                                "projection.p_tenant.type": "injected",
                                "storage.location.template": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "s3://",
                                            {"Ref": Match.string_like_regexp("^LakeCurated")},
                                            "/data/dt=${dt}/hour=${hour}/p_region=${p_region}/p_tenant=${p_tenant}/",
                                        ],
                                    ]
                                },
                            }
                        ),
                        "PartitionKeys": [
                            {"Name": "dt", "Type": "string"},
                            {"Name": "hour", "Type": "string"},
                            {"Name": "p_region", "Type": "string"},
                            {"Name": "p_tenant", "Type": "string"},
                        ],
                    }
                )
            },
        )
        # Planned shards from the throughput intent: ceil(max(1.53 MiB/s, 2 krec/s) x 1.25) = 3.
        self.template.has_resource_properties(
            "AWS::Kinesis::Stream", {"ShardCount": 3, "RetentionPeriodHours": 168}
        )

    def test_archive_keeps_exact_records_under_compliance_lock_and_can_replay(self) -> None:
        self.template.has_resource_properties(
            "AWS::KinesisFirehose::DeliveryStream",
            {
                "ExtendedS3DestinationConfiguration": Match.object_like(
                    {
                        "DataFormatConversionConfiguration": Match.absent(),
                        "Prefix": "archive/dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/"
                        "bucket=!{partitionKeyFromLambda:bucket}/",
                    }
                )
            },
        )
        self.template.has_resource_properties(
            "AWS::S3::Bucket",
            {
                "ObjectLockEnabled": True,
                "ObjectLockConfiguration": {
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2555}},
                },
            },
        )
        self.template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
        self.template.has_resource_properties(
            "AWS::Glue::Table",
            {"TableInput": Match.object_like({"Parameters": Match.object_like({"projection.bucket.range": "0,15"})})},
        )

    def test_consumer_reports_partial_failures_and_keeps_failed_batches(self) -> None:
        self.template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^LakeStream"), "Arn"]},
                "FunctionName": {"Ref": Match.string_like_regexp("^CustomerTotalsFunction")},
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "BisectBatchOnFunctionError": True,
                "MaximumRetryAttempts": 5,
                "MaximumRecordAgeInSeconds": 604800,  # the lake stream's 7-day retention: nothing retained is discarded
                "ParallelizationFactor": 10,  # ConsumerOrdering.PER_KEY
                "DestinationConfig": {
                    "OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("^CustomerTotalsFailures"), "Arn"]}}
                },
            },
        )
        self.template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Runtime": "nodejs22.x",
                "Architectures": ["arm64"],
                "Handler": "index.handler",
                "Environment": {
                    "Variables": {
                        "TOTALS_TABLE": {"Ref": Match.string_like_regexp("^Totals")},
                        "IDEMPOTENCY_TABLE": {"Ref": Match.string_like_regexp("^Idempotency")},
                    }
                },
            },
        )

    def test_every_function_code_asset_is_in_the_assembly_and_is_the_built_handler(self) -> None:
        with open(os.path.join(self.outdir, f"{STACK}.assets.json")) as f:
            files = json.load(f)["files"]
        shipped = {}
        for logical_id, fn in self.resources("AWS::Lambda::Function").items():
            asset_hash = fn["Properties"]["Code"]["S3Key"].removesuffix(".zip")
            source = files[asset_hash]["source"]
            self.assertEqual(source["packaging"], "zip", logical_id)
            index = os.path.join(self.outdir, source["path"], "index.js")
            self.assertTrue(os.path.isfile(index), f"{logical_id}: {index} missing from the cloud assembly")
            shipped[logical_id] = sha256(index)
        # The package's own handlers come out of the wheel's npm tarball, byte for byte what
        # `npm run build` bundled; the consumer's code is the example handler's bundle.
        built = {
            name: sha256(os.path.join(ROOT, "assets", "lambda", name, "index.js"))
            for name in ("archive-processor", "replay-planner", "replay-worker", "redrive")
        }
        built["customer-totals"] = sha256(os.path.join(ROOT, "assets", "examples", "customer-totals", "index.js"))
        by_prefix = {
            "ArchiveDeliveryProcessor": "archive-processor",
            "ArchiveReplayPlanner": "replay-planner",
            "ArchiveReplayWorker": "replay-worker",
            "CustomerTotalsRedriveFunction": "redrive",
            "CustomerTotalsFunction": "customer-totals",
        }
        self.assertEqual(len(shipped), len(by_prefix), sorted(shipped))
        for logical_id, digest in shipped.items():
            name = by_prefix[logical_id[:-8]]  # the logical ID less CDK's 8-hex-digit suffix
            self.assertEqual(digest, built[name], f"{logical_id} does not run the built {name} handler")


if __name__ == "__main__":
    unittest.main()
