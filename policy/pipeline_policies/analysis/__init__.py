"""The stack's model, built once per stack: resources by type, the index of queues, feeds, consumers and
principals, IAM and KMS evaluation, the delivery paths and the message-lifecycle arithmetic. The rules
(`pipeline_policies.rules`) query it; nothing here reports a violation."""
