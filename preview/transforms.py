"""Resource transforms (`pulumi.runtime.register_resource_transform`, `ResourceOptions(transforms=...)`)
run as the engine runs them.

With the CLI the engine calls each transform back before it registers a resource: the resource's
own, then its parent's and their ancestors', then the stack's, in the order they were registered
(https://www.pulumi.com/docs/iac/concepts/options/transforms/). The SDK's mock monitor only records
them, so a transform that adds tags or changes a property would be invisible to the policies. This
calls the program's transforms through the SDK's own callback servicer, so the arguments they get
and the properties they return are converted exactly as with the engine.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.proto import callback_pb2, resource_pb2
from pulumi.runtime.sync_await import _sync_await


class TransformRunner:
    """The transforms registered so far: the stack's, and each resource's (its own and inherited)."""

    def __init__(self) -> None:
        self.stack: list[callback_pb2.Callback] = []
        self.of_resource: dict[str, list[callback_pb2.Callback]] = {}

    def register_stack(self, callback: callback_pb2.Callback) -> None:
        self.stack.append(callback)

    def transformed(self, request: Any, urn: str) -> Any:
        """`request.object` after every transform that applies to the resource `urn` (the request
        is changed in place: the monitor then records and plans what the transforms returned)."""
        inherited = self.of_resource.get(request.parent, []) if request.parent else []
        own = list(request.transforms)
        self.of_resource[urn] = own + inherited
        for callback in own + inherited + self.stack:
            function = _callback(callback.token)
            if function is None:
                continue
            transform_request = resource_pb2.TransformRequest(
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                properties=request.object,
                options=resource_pb2.TransformResourceOptions(
                    depends_on=list(request.dependencies), protect=request.protect
                ),
            )
            response = _sync_await(function(transform_request.SerializeToString()))
            request.object.CopyFrom(response.properties)
        return request


def _callback(token: str) -> Any:
    for servicer in _CallbackServicer._servicers:
        function = servicer._callbacks.get(token)
        if function is not None:
            return function
    return None
