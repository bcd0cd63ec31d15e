"""The CIS file pipeline: read the stack's settings, build the components, export what others read."""

import pulumi

from components.file_event_pipeline import FileEventPipeline, FileEventPipelineArgs
from components.settings import PipelineSettings

settings = PipelineSettings.from_config()

pipeline = FileEventPipeline("file-pipeline", FileEventPipelineArgs.from_settings(settings))

pulumi.export("queueUrl", pipeline.queue.url)
pulumi.export("queueArn", pipeline.queue.arn)
pulumi.export("dlqUrl", pipeline.dead_letter_queue.url)
pulumi.export("dlqArn", pipeline.dead_letter_queue.arn)
pulumi.export("bucketName", pipeline.upload_bucket.bucket)
pulumi.export("indexBucketName", pipeline.index_bucket.bucket)
