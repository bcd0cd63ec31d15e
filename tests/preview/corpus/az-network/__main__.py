"""One public and one private subnet per availability zone, zones looked up at deploy time."""

import ipaddress

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
zone_count = config.get_int("zoneCount") or 2
network = ipaddress.ip_network(config.get("cidrBlock") or "10.0.0.0/16")

zones = aws.get_availability_zones(state="available")
identity = aws.get_caller_identity()
region = aws.get_region()

vpc = aws.ec2.Vpc(
    "main",
    cidr_block=str(network),
    enable_dns_hostnames=True,
    tags={"Name": f"main-{region.region}", "Owner": identity.account_id},
)
gateway = aws.ec2.InternetGateway("main", vpc_id=vpc.id)
public_routes = aws.ec2.RouteTable(
    "public",
    vpc_id=vpc.id,
    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
)

subnets = list(network.subnets(new_prefix=20))
public_ids = []
private_ids = []
for index, zone in enumerate(zones.names[:zone_count]):
    public = aws.ec2.Subnet(
        f"public-{zone}",
        vpc_id=vpc.id,
        availability_zone=zone,
        cidr_block=str(subnets[index]),
        map_public_ip_on_launch=True,
    )
    aws.ec2.RouteTableAssociation(f"public-{zone}", subnet_id=public.id, route_table_id=public_routes.id)
    private = aws.ec2.Subnet(
        f"private-{zone}",
        vpc_id=vpc.id,
        availability_zone=zone,
        cidr_block=str(subnets[index + zone_count]),
    )
    public_ids.append(public.id)
    private_ids.append(private.id)

pulumi.export("vpcId", vpc.id)
pulumi.export("zones", zones.names[:zone_count])
pulumi.export("publicSubnetIds", public_ids)
pulumi.export("privateSubnetIds", private_ids)
