# From jaxxstorm/pulumi-examples python/misc/config/__main__.py (structured config: require_object,
# require_secret_object, get_object, a list read back with json.loads, printed as it goes), with a
# queue whose visibility timeout comes from config as a string, as `config.get` returns it. The
# provider converts "120" to the number; `pulumi preview` fails on a value it cannot convert ("soon").
import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
foo = config.require_object("foo")
allowed_hosts = foo.get("allowed_hosts")
pulumi.log.info(f"h1 {allowed_hosts[0]}")
pulumi.log.info(f"h2 {allowed_hosts[1]}")

# retrieves the secret object, must use an `apply` to resolve
secret_foo = config.require_secret_object("foo")
secret_foo.apply(lambda host: print(host))

# handle a list
cfg = pulumi.Config("access")
users = cfg.get_object("users")
users = json.loads(cfg.get("users"))

print(users)

queue = aws.sqs.Queue(
    "hosts",
    visibility_timeout_seconds=config.get("visibility"),
    tags={"hosts": ",".join(allowed_hosts)},
)
pulumi.export("users", users)
