"""The template deployed into moto's CloudFormation (moto server on loopback) and what it made.

The network the stack expects (a VPC, two public and two private subnets in two zones), an ACM
certificate and the release bucket are created in moto first; then `create_stack` with every
required parameter, and the resources are read back through the services' own APIs.

What moto 5 lacks, and where those guarantees are asserted instead (on the template as
CloudFormation reads it, `tests.deploy.support.template()`; `MOTO_LACKS` must list exactly the
resource types moto has no model for, so a moto upgrade that adds one is noticed):

- `AWS::SecretsManager::Secret` (the JWT key): no model; `Ref` to it resolves to nothing.
- `AWS::S3::BucketPolicy` (TLS only): no model.
- `AWS::EC2::SecurityGroupEgress` (load balancer -> instances, instances -> database): no model;
  the `SecurityGroupEgress` property of `AWS::EC2::SecurityGroup` is dropped too (moto shows the
  default allow-all egress).
- `AWS::AutoScaling::ScalingPolicy` (CPU target tracking): no model.
- `AWS::S3::Bucket`: only `BucketEncryption` is applied; public access block, versioning,
  lifecycle and ownership controls are dropped.
- `AWS::ElasticLoadBalancingV2::LoadBalancer` / `TargetGroup`: `LoadBalancerAttributes` and
  `TargetGroupAttributes` are dropped.
- `AWS::AutoScaling::AutoScalingGroup`: `InstanceMaintenancePolicy` (the minimum healthy
  percentage of instance refreshes) and `DefaultInstanceWarmup` are dropped, `CreationPolicy`
  ignored (no cfn-signal is awaited).
- `AWS::RDS::DBInstance`: `ManageMasterUserPassword`, `DeletionProtection`, `VPCSecurityGroups`,
  `EnableCloudwatchLogsExports`, `MaxAllocatedStorage` and the `MasterUserSecret.SecretArn`
  attribute are missing from moto's template adapter though its RDS model has them;
  `tests/deploy/moto_rds.py` forwards them (without it the stack cannot be created at all).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from moto.cloudformation.parsing import get_model_map
from moto.server import ThreadedMotoServer

from cloud.settings import CloudSettings
from tests.deploy.moto_rds import rds_adapter_completed
from tests.deploy.support import (
    INSTALL_SCRIPT,
    TEMPLATE,
    embedded_user_data,
    properties,
    resource,
    template,
)

# moto warns once per resource type it cannot model; MOTO_LACKS names them, the test checks it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Tried to parse AWS.* not supported by moto:UserWarning"
)

REGION = "us-east-1"
MOTO_LACKS = {
    "AWS::SecretsManager::Secret",
    "AWS::S3::BucketPolicy",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::AutoScaling::ScalingPolicy",
}
PUBLIC_URL = "https://api.example.com"
RELEASE_BUCKET = "studylens-releases"
RELEASE_KEY = "releases/studylens-cloud-0.1.0.tar.gz"
GOOGLE_CLIENT_IDS = "1234-abc.apps.googleusercontent.com,5678-def.apps.googleusercontent.com"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
#: RFC 7518, 3.2: an HS256 key is at least 256 bits; the API refuses a shorter one.
MIN_JWT_KEY_LENGTH = 32


@dataclass(frozen=True)
class Stack:
    """The created stack: a client factory, its parameters, outputs and physical ids."""

    endpoint: str
    network: dict[str, Any]
    outputs: dict[str, str]
    physical: dict[str, str]
    anonymous: int = 0

    def client(self, service: str) -> Any:
        """A boto3 client of the moto server, with fake credentials."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 (moto's fake key)
        )


def create_network(stack: Stack) -> dict[str, Any]:
    """A VPC, public and private subnets in two zones, an ACM certificate, the release bucket."""
    ec2 = stack.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    zones = [f"{REGION}a", f"{REGION}b"]
    public: list[str] = []
    private: list[str] = []
    for index, zone in enumerate(zones):
        for subnets, offset in ((public, 0), (private, 10)):
            made = ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.20.{offset + index}.0/24", AvailabilityZone=zone
            )
            subnets.append(made["Subnet"]["SubnetId"])
    certificate = stack.client("acm").request_certificate(DomainName="api.example.com")
    stack.client("s3").create_bucket(Bucket=RELEASE_BUCKET)
    return {
        "VpcId": vpc,
        "PublicSubnetIds": public,
        "PrivateSubnetIds": private,
        "CertificateArn": certificate["CertificateArn"],
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The template deployed into a moto server on loopback, CREATE_COMPLETE."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with rds_adapter_completed():
            yield deploy(Stack(endpoint, {}, {}, {}))
    finally:
        httpx.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()


def deploy(bare: Stack) -> Stack:
    """Create the network, then the stack; wait for the end of creation."""
    network = create_network(bare)
    parameters = {
        **{key: ",".join(v) if isinstance(v, list) else v for key, v in network.items()},
        "PublicUrl": PUBLIC_URL,
        "ReleaseBucket": RELEASE_BUCKET,
        "ReleaseKey": RELEASE_KEY,
        "GoogleClientIds": GOOGLE_CLIENT_IDS,
    }
    cloudformation = bare.client("cloudformation")
    cloudformation.create_stack(
        StackName="studylens",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    # moto creates the stack within the call; the waiter (bounded: 5 s x 24) confirms it.
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName="studylens", WaiterConfig={"Delay": 5, "MaxAttempts": 24}
    )
    described = cloudformation.describe_stacks(StackName="studylens")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    summaries = cloudformation.list_stack_resources(StackName="studylens")
    return Stack(
        endpoint=bare.endpoint,
        network=network,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
        physical={
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for r in summaries["StackResourceSummaries"]
            if r["LogicalResourceId"]
        },
        anonymous=sum(1 for r in summaries["StackResourceSummaries"] if not r["LogicalResourceId"]),
    )


def test_every_resource_of_the_template_is_in_the_stack(stack: Stack) -> None:
    """The stack holds every resource; moto lacks a model for exactly the MOTO_LACKS types."""
    resources = template()["Resources"]
    types = {body["Type"] for body in resources.values()}
    assert types - set(get_model_map()) == MOTO_LACKS
    modelled = {key for key, body in resources.items() if body["Type"] not in MOTO_LACKS}
    assert set(stack.physical) == modelled
    # moto lists the resources it cannot model without a logical id.
    lacking = [key for key, body in resources.items() if body["Type"] in MOTO_LACKS]
    assert stack.anonymous == len(lacking)


def test_outputs_name_the_api_url_and_the_bucket(stack: Stack) -> None:
    """ApiUrl is the public URL; the bucket output names a bucket that exists."""
    assert stack.outputs["ApiUrl"] == PUBLIC_URL
    stack.client("s3").head_bucket(Bucket=stack.outputs["ImageBucketName"])
    assert stack.outputs["ImageBucketName"] == stack.physical["ImageBucket"]


def test_load_balancer_is_https_with_a_redirect_from_http(stack: Stack) -> None:
    """Internet-facing in the public subnets; 443 with TLS 1.2+ forwards, 80 redirects (301)."""
    elb = stack.client("elbv2")
    (balancer,) = elb.describe_load_balancers(LoadBalancerArns=[stack.physical["LoadBalancer"]])[
        "LoadBalancers"
    ]
    assert (balancer["Type"], balancer["Scheme"]) == ("application", "internet-facing")
    subnets = {zone["SubnetId"] for zone in balancer["AvailabilityZones"]}
    assert subnets == set(stack.network["PublicSubnetIds"])
    assert balancer["SecurityGroups"] == [stack.physical["LoadBalancerSecurityGroup"]]
    listeners = {
        item["Port"]: item
        for item in elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    }
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": stack.network["CertificateArn"]}]
    assert https["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": stack.physical["TargetGroup"]}
    ]
    http = listeners[80]
    assert http["Protocol"] == "HTTP"
    (redirect,) = http["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    # Dropped by moto: asserted on the template.
    attributes = {
        a["Key"]: a["Value"] for a in properties("LoadBalancer")["LoadBalancerAttributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


def test_target_group_checks_readyz(stack: Stack) -> None:
    """Health check GET /readyz on the API port, 200 only; draining outlasts the API's grace."""
    (group,) = stack.client("elbv2").describe_target_groups(
        TargetGroupArns=[stack.physical["TargetGroup"]]
    )["TargetGroups"]
    assert (group["Protocol"], group["Port"], group["TargetType"]) == ("HTTP", 8080, "instance")
    assert group["HealthCheckPath"] == "/readyz"
    assert group["Matcher"] == {"HttpCode": "200"}
    assert group["VpcId"] == stack.network["VpcId"]
    # Dropped by moto: the deregistration delay, on the template. It must outlast the
    # API's own drain, or the load balancer cuts requests the API is still finishing.
    attributes = {a["Key"]: a["Value"] for a in properties("TargetGroup")["TargetGroupAttributes"]}
    grace = CloudSettings.model_fields["shutdown_grace_seconds"].default
    assert int(attributes["deregistration_delay.timeout_seconds"]) > grace


def test_auto_scaling_group_spans_two_private_subnets(stack: Stack) -> None:
    """At least two instances, the two private subnets, the stack's launch template, ELB health."""
    autoscaling = stack.client("autoscaling")
    (group,) = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.physical["AutoScalingGroup"]]
    )["AutoScalingGroups"]
    assert group["MinSize"] >= 2
    assert group["DesiredCapacity"] >= group["MinSize"]
    assert group["MaxSize"] > group["DesiredCapacity"], "no room to launch before terminating"
    subnets = group["VPCZoneIdentifier"].split(",")
    assert sorted(subnets) == sorted(stack.network["PrivateSubnetIds"])
    ec2 = stack.client("ec2")
    zones = {s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]}
    assert len(zones) == 2
    assert group["LaunchTemplate"]["LaunchTemplateId"] == stack.physical["LaunchTemplate"]
    (latest,) = ec2.describe_launch_templates(LaunchTemplateIds=[stack.physical["LaunchTemplate"]])[
        "LaunchTemplates"
    ]
    assert group["LaunchTemplate"]["Version"] == str(latest["LatestVersionNumber"])
    assert group["TargetGroupARNs"] == [stack.physical["TargetGroup"]]
    assert group["HealthCheckType"] == "ELB"
    assert len(group["Instances"]) == group["DesiredCapacity"]
    # Dropped by moto: the instance refresh policy and the creation signals, on the template.
    body = resource("AutoScalingGroup")
    policy = body["Properties"]["InstanceMaintenancePolicy"]
    assert policy["MinHealthyPercentage"] == 100
    assert policy["MaxHealthyPercentage"] > 100
    assert body["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": "DesiredCapacity"}
    assert template()["Parameters"]["MinSize"]["MinValue"] >= 2


def test_launch_template_requires_imdsv2_and_encrypts_volumes(stack: Stack) -> None:
    """IMDSv2 only, every EBS volume encrypted, no public address, AL2023 image from SSM."""
    ec2 = stack.client("ec2")
    (version,) = ec2.describe_launch_template_versions(
        LaunchTemplateId=stack.physical["LaunchTemplate"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    volumes = data["BlockDeviceMappings"]
    assert volumes
    assert all(volume["Ebs"]["Encrypted"] is True for volume in volumes)
    assert not any(
        interface.get("AssociatePublicIpAddress") for interface in data.get("NetworkInterfaces", [])
    )
    assert data["SecurityGroupIds"] == [stack.physical["InstanceSecurityGroup"]]
    image = stack.client("ssm").get_parameter(Name=AL2023)["Parameter"]["Value"]
    assert data["ImageId"] == image
    assert template()["Parameters"]["ImageId"]["Default"] == AL2023
    profiles = stack.client("iam").list_instance_profiles_for_role(
        RoleName=stack.physical["InstanceRole"]
    )["InstanceProfiles"]
    assert [p["Arn"] for p in profiles] == [data["IamInstanceProfile"]["Arn"]]


def test_user_data_hands_the_stacks_values_to_the_install_script(stack: Stack) -> None:
    """The user data exports the stack's own ARNs, endpoint and names, then runs the script."""
    (version,) = stack.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=stack.physical["LaunchTemplate"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    user_data = base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode()
    script = INSTALL_SCRIPT.read_text()
    assert user_data.endswith(script)
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in user_data.removesuffix(script).splitlines()
        if line.startswith("export ")
    )
    (database,) = stack.client("rds").describe_db_instances(
        DBInstanceIdentifier=stack.physical["Database"]
    )["DBInstances"]
    expected = {
        "STUDYLENS_RELEASE_URI": f"s3://{RELEASE_BUCKET}/{RELEASE_KEY}",
        "STUDYLENS_AWS_REGION": REGION,
        "STUDYLENS_LOG_GROUP": stack.physical["LogGroup"],
        "STUDYLENS_CFN_STACK": "studylens",
        "STUDYLENS_CLOUD_DATABASE_SECRET_ARN": database["MasterUserSecret"]["SecretArn"],
        "STUDYLENS_CLOUD_DATABASE_HOST": database["Endpoint"]["Address"],
        "STUDYLENS_CLOUD_DATABASE_PORT": str(database["Endpoint"]["Port"]),
        "STUDYLENS_CLOUD_S3_BUCKET": stack.outputs["ImageBucketName"],
        "STUDYLENS_CLOUD_PUBLIC_URL": PUBLIC_URL,
        "STUDYLENS_CLOUD_GOOGLE_CLIENT_IDS": GOOGLE_CLIENT_IDS,
    }
    assert {key: exports[key].strip("'") for key in expected} == expected
    assert exports["STUDYLENS_CFN_RESOURCE"] == "AutoScalingGroup"
    assert "AutoScalingGroup" in template()["Resources"]
    # Every exported setting is one the API knows (its settings forbid unknown names).
    settings = {
        key.removeprefix("STUDYLENS_CLOUD_").lower()
        for key in exports
        if key.startswith("STUDYLENS_CLOUD_")
    }
    assert settings <= set(CloudSettings.model_fields)
    # moto lacks the JWT secret: its ARN is the template's Ref to the secret resource.
    values, _ = embedded_user_data()
    assert "export STUDYLENS_CLOUD_JWT_SECRET_ARN='${JwtSecret}'" in values["Fn::Sub"][0]


def test_database_is_private_encrypted_backed_up_and_protected(stack: Stack) -> None:
    """PostgreSQL 15+, encrypted, not public, private subnets, managed secret, 7 days, protected."""
    (database,) = stack.client("rds").describe_db_instances(
        DBInstanceIdentifier=stack.physical["Database"]
    )["DBInstances"]
    assert database["Engine"] == "postgres"
    assert int(database["EngineVersion"].split(".")[0]) >= 15
    assert database["StorageEncrypted"] is True
    assert database["PubliclyAccessible"] is False
    assert database["BackupRetentionPeriod"] == 7
    assert database["DeletionProtection"] is True
    assert database["MultiAZ"] is True
    subnets = {s["SubnetIdentifier"] for s in database["DBSubnetGroup"]["Subnets"]}
    assert subnets == set(stack.network["PrivateSubnetIds"])
    assert [g["VpcSecurityGroupId"] for g in database["VpcSecurityGroups"]] == [
        stack.physical["DatabaseSecurityGroup"]
    ]
    secret = database["MasterUserSecret"]["SecretArn"]
    stack.client("secretsmanager").describe_secret(SecretId=secret)
    assert stack.outputs["DatabaseSecretArn"] == secret
    # The template alone: no password anywhere, a final snapshot when the stack goes.
    body = resource("Database")
    assert "MasterUserPassword" not in body["Properties"]
    assert body["DeletionPolicy"] == "Snapshot"


def ingress(stack: Stack, logical_id: str) -> list[dict[str, Any]]:
    """The ingress rules of one of the stack's security groups."""
    (group,) = stack.client("ec2").describe_security_groups(GroupIds=[stack.physical[logical_id]])[
        "SecurityGroups"
    ]
    rules: list[dict[str, Any]] = group["IpPermissions"]
    return rules


def rule(rule: dict[str, Any]) -> tuple[Any, ...]:
    """A rule as (protocol, from, to, CIDRs, source groups)."""
    return (
        rule["IpProtocol"],
        rule.get("FromPort"),
        rule.get("ToPort"),
        tuple(r["CidrIp"] for r in rule.get("IpRanges", [])),
        tuple(p["GroupId"] for p in rule.get("UserIdGroupPairs", [])),
    )


def test_each_security_group_admits_only_the_one_before_it(stack: Stack) -> None:
    """Internet -> 443/80 -> load balancer -> 8080 -> instances -> 5432 -> database."""
    balancer, instances = (
        stack.physical[k] for k in ("LoadBalancerSecurityGroup", "InstanceSecurityGroup")
    )
    assert sorted(map(rule, ingress(stack, "LoadBalancerSecurityGroup"))) == [
        ("tcp", 80, 80, ("0.0.0.0/0",), ()),
        ("tcp", 443, 443, ("0.0.0.0/0",), ()),
    ]
    assert list(map(rule, ingress(stack, "InstanceSecurityGroup"))) == [
        ("tcp", 8080, 8080, (), (balancer,))
    ]
    assert list(map(rule, ingress(stack, "DatabaseSecurityGroup"))) == [
        ("tcp", 5432, 5432, (), (instances,))
    ]
    # moto lacks egress rules: on the template. The database calls no one; the instances
    # reach HTTPS and the database only; the load balancer reaches the API port only.
    (database_egress,) = properties("DatabaseSecurityGroup")["SecurityGroupEgress"]
    assert database_egress["CidrIp"] == "127.0.0.1/32"
    assert [
        (r["FromPort"], r["CidrIp"])
        for r in properties("InstanceSecurityGroup")["SecurityGroupEgress"]
    ] == [(443, "0.0.0.0/0")]
    egress = {
        (group["Fn::GetAtt"][0], body["Properties"]["FromPort"], target["Fn::GetAtt"][0])
        for body in template()["Resources"].values()
        if body["Type"] == "AWS::EC2::SecurityGroupEgress"
        for group, target in [
            (body["Properties"]["GroupId"], body["Properties"]["DestinationSecurityGroupId"])
        ]
    }
    assert egress == {
        ("LoadBalancerSecurityGroup", 8080, "InstanceSecurityGroup"),
        ("InstanceSecurityGroup", 5432, "DatabaseSecurityGroup"),
    }


def test_image_bucket_is_encrypted_private_versioned_and_tls_only(stack: Stack) -> None:
    """SSE on (moto); public access blocked, versions kept then expired, TLS only (template)."""
    s3 = stack.client("s3")
    encryption = s3.get_bucket_encryption(Bucket=stack.outputs["ImageBucketName"])
    (default,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert default["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    bucket = properties("ImageBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (lifecycle,) = bucket["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled"
    assert 1 <= lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 90
    assert "Prefix" not in lifecycle, "the rule covers every key"
    assert "Filter" not in lifecycle, "the rule covers every key"
    assert resource("ImageBucket")["DeletionPolicy"] == "Retain"
    policy = properties("ImageBucketPolicy")
    assert policy["Bucket"] == {"Ref": "ImageBucket"}
    (tls_only,) = policy["PolicyDocument"]["Statement"]
    assert tls_only["Effect"] == "Deny"
    assert (tls_only["Principal"], tls_only["Action"]) == ("*", "s3:*")
    assert tls_only["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls_only["Resource"] == [
        {"Fn::GetAtt": ["ImageBucket", "Arn"]},
        {"Fn::Sub": "${ImageBucket.Arn}/*"},
    ]


def test_jwt_secret_is_generated_as_plain_text(stack: Stack) -> None:
    """The JWT key is generated long and as plain text (on the template: moto lacks secrets)."""
    body = resource("JwtSecret")
    assert body["Type"] == "AWS::SecretsManager::Secret"
    generate = body["Properties"]["GenerateSecretString"]
    assert generate["PasswordLength"] >= MIN_JWT_KEY_LENGTH
    assert "SecretStringTemplate" not in generate, "the API wants the key itself, not JSON"
    assert "SecretString" not in body["Properties"]


def policy_statements(stack: Stack) -> dict[str, dict[str, Any]]:
    """The instance role's inline policy statements by Sid; the role has nothing else."""
    iam = stack.client("iam")
    role = stack.physical["InstanceRole"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return {statement["Sid"]: statement for statement in document["Statement"]}


def listed(value: str | list[str]) -> list[str]:
    """A policy element that may be one string or a list, as a list."""
    return [value] if isinstance(value, str) else value


def test_instance_role_has_least_privilege(stack: Stack) -> None:
    """Its bucket prefix, its two secrets, its log group, the release object, Session Manager."""
    statements = policy_statements(stack)
    assert set(statements) == {
        "Images",
        "ListImages",
        "Secrets",
        "Logs",
        "Release",
        "SessionManager",
    }
    assert all(s["Effect"] == "Allow" for s in statements.values())
    assert not [s for s in statements.values() if {"NotAction", "NotResource"} & set(s)]
    bucket = f"arn:aws:s3:::{stack.outputs['ImageBucketName']}"
    images = statements["Images"]
    assert sorted(images["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert images["Resource"] == f"{bucket}/users/*"
    listing = statements["ListImages"]
    assert (listing["Action"], listing["Resource"]) == ("s3:ListBucket", bucket)
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["users/*"]}}
    (database,) = stack.client("rds").describe_db_instances(
        DBInstanceIdentifier=stack.physical["Database"]
    )["DBInstances"]
    secrets = statements["Secrets"]
    assert secrets["Action"] == "secretsmanager:GetSecretValue"
    # moto lacks the JWT secret, so its Ref resolves to nothing here; the template names it.
    assert secrets["Resource"] == [database["MasterUserSecret"]["SecretArn"], None]
    in_template = properties("InstancePolicy")["PolicyDocument"]["Statement"]
    (secrets_in_template,) = [s for s in in_template if s["Sid"] == "Secrets"]
    assert secrets_in_template["Resource"][1] == {"Ref": "JwtSecret"}
    (group,) = stack.client("logs").describe_log_groups(
        logGroupNamePrefix=stack.physical["LogGroup"]
    )["logGroups"]
    logs = statements["Logs"]
    assert logs["Resource"] in (group["arn"], group.get("logGroupArn"))
    assert sorted(logs["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    release = statements["Release"]
    assert (release["Action"], release["Resource"]) == (
        "s3:GetObject",
        f"arn:aws:s3:::{RELEASE_BUCKET}/{RELEASE_KEY}",
    )
    # Only Session Manager's channel actions, which take no resource ARN, use "*".
    assert {sid for sid, s in statements.items() if s["Resource"] == "*"} == {"SessionManager"}
    assert sorted(statements["SessionManager"]["Action"]) == [
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    ]
    actions = [a for s in statements.values() for a in listed(s["Action"])]
    assert [a for a in actions if "*" in a] == [], "no wildcard actions"


def test_log_group_keeps_lines_for_the_retention_set(stack: Stack) -> None:
    """The log group exists with the stack's retention (a year by default)."""
    (group,) = stack.client("logs").describe_log_groups(
        logGroupNamePrefix=stack.physical["LogGroup"]
    )["logGroups"]
    assert (
        group["retentionInDays"] == template()["Parameters"]["LogRetentionDays"]["Default"] == 365
    )
