"""Teach moto's CloudFormation the RDS properties its RDS model has but its template adapter drops.

moto 5's `AWS::RDS::DBInstance` adapter (`DBInstance.create_from_cloudformation_json`) passes a
fixed list of properties to moto's RDS backend and knows only the `Endpoint.Address` and
`Endpoint.Port` attributes. It drops `ManageMasterUserPassword`, `DeletionProtection`,
`VPCSecurityGroups` (it reads a `VpcSecurityGroupIds` that CloudFormation does not have),
`EnableCloudwatchLogsExports` and `MaxAllocatedStorage`, and refuses
`!GetAtt DB.MasterUserSecret.SecretArn`, so the template could not be created at all.

`rds_adapter_completed()` forwards those five properties onto the instance moto made, with moto's
own `MasterUserSecret` (a real secret in moto's Secrets Manager, as RDS makes one), and answers
the attribute from it. Nothing else changes: the stack still goes through moto's template
parser, intrinsic functions and every other resource's adapter. The moto server runs in this
process (`ThreadedMotoServer`), so the patch applies to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.rds.models import DBInstance, MasterUserSecret

SECRET_ATTRIBUTE = "MasterUserSecret.SecretArn"  # noqa: S105 (an attribute name)


def _forward(database: DBInstance, properties: dict[str, Any]) -> None:
    if properties.get("ManageMasterUserPassword") in (True, "true", "True"):
        database.manage_master_user_password = True
        database.master_user_secret = MasterUserSecret(
            database, properties.get("MasterUserSecret", {}).get("KmsKeyId")
        )
    if "DeletionProtection" in properties:
        database.deletion_protection = properties["DeletionProtection"] in (True, "true", "True")
    if properties.get("VPCSecurityGroups"):
        database.vpc_security_group_ids = list(properties["VPCSecurityGroups"])
    if properties.get("EnableCloudwatchLogsExports"):
        database.enabled_cloudwatch_logs_exports = list(properties["EnableCloudwatchLogsExports"])
    if "MaxAllocatedStorage" in properties:
        database.max_allocated_storage = int(properties["MaxAllocatedStorage"])


@contextmanager
def rds_adapter_completed() -> Iterator[None]:
    """Patch moto's DBInstance adapter for the duration of the block."""
    create = DBInstance.__dict__["create_from_cloudformation_json"]
    has_attr = DBInstance.__dict__["has_cfn_attr"]
    get_attr = DBInstance.get_cfn_attribute

    def create_completed(
        cls: type[DBInstance],
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> DBInstance:
        database: DBInstance = create.__func__(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        _forward(database, cloudformation_json["Properties"])
        return database

    def has_attr_completed(cls: type[DBInstance], attr: str) -> bool:
        return attr == SECRET_ATTRIBUTE or bool(has_attr.__func__(cls, attr))

    def get_attr_completed(self: DBInstance, attribute_name: str) -> Any:
        if attribute_name == SECRET_ATTRIBUTE:
            return self.master_user_secret.secret.arn
        return get_attr(self, attribute_name)

    DBInstance.create_from_cloudformation_json = classmethod(create_completed)  # type: ignore[method-assign,assignment]
    DBInstance.has_cfn_attr = classmethod(has_attr_completed)  # type: ignore[method-assign,assignment]
    DBInstance.get_cfn_attribute = get_attr_completed  # type: ignore[method-assign]
    try:
        yield
    finally:
        DBInstance.create_from_cloudformation_json = create  # type: ignore[method-assign]
        DBInstance.has_cfn_attr = has_attr  # type: ignore[method-assign]
        DBInstance.get_cfn_attribute = get_attr  # type: ignore[method-assign]
