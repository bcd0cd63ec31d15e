"""Where the workers run: the private subnets named in config, or those carrying the private tag."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.settings import FleetSettings


def private_subnets(settings: FleetSettings) -> tuple[pulumi.Output[list[str]], pulumi.Output[str]]:
    """(subnet ids, their VPC id); looked up by tag at deploy time when privateSubnetIds is empty."""
    if settings.private_subnet_ids:
        ids = pulumi.Output.from_input(settings.private_subnet_ids)
    else:
        key, value = settings.subnet_tag
        ids = aws.ec2.get_subnets_output(filters=[{"name": f"tag:{key}", "values": [value]}]).ids
    vpc_id = ids.apply(lambda found: _first(found, settings)).apply(
        lambda subnet: aws.ec2.get_subnet_output(id=subnet).vpc_id
    )
    return ids, vpc_id


def _first(subnet_ids: list[str], settings: FleetSettings) -> str:
    if not subnet_ids:
        raise ValueError(
            f"no private subnets: none tagged {settings.private_subnet_tag!r} were found; set privateSubnetIds "
            "or tag the workers' subnets"
        )
    return subnet_ids[0]


def private_route_tables(
    settings: FleetSettings, subnet_ids: pulumi.Input[list[str]]
) -> pulumi.Output[list[str]]:
    """The private subnets' route tables (privateRouteTableIds, or those explicitly associated with the
    subnets, looked up at deploy time): where the S3 gateway endpoint adds its prefix-list route."""
    if settings.private_route_table_ids:
        return pulumi.Output.from_input(settings.private_route_table_ids)
    found = pulumi.Output.from_input(subnet_ids).apply(
        lambda ids: (
            aws.ec2.get_route_tables_output(
                filters=[{"name": "association.subnet-id", "values": list(ids)}]
            ).ids
        )
    )
    return found.apply(lambda ids: _some_route_tables(ids, settings))


def _some_route_tables(route_table_ids: list[str], settings: FleetSettings) -> list[str]:
    if not route_table_ids:
        raise ValueError(
            "no route tables are explicitly associated with the private subnets (they use the VPC's main "
            "route table); set privateRouteTableIds for workerNetworkEgress=vpc-endpoints"
        )
    return sorted(route_table_ids)
