"""Discovery: the daemon advertises itself over mDNS/DNS-SD so the phone finds it on the Wi-Fi.

`txt` is what is said (the advert and its TXT records), `interfaces` where (addresses and
multicast interfaces), `advertiser` the daemon's side, `browser` the finding side
(`studylens-edge discover`, the phone simulator).
"""

from edge.discovery.advertiser import Advertiser
from edge.discovery.browser import Found, discover
from edge.discovery.interfaces import advertise_interfaces, local_addresses
from edge.discovery.txt import (
    PROTOCOL_VERSION,
    SERVICE_TYPE,
    Advert,
    default_instance_name,
    txt_records,
)

__all__ = [
    "PROTOCOL_VERSION",
    "SERVICE_TYPE",
    "Advert",
    "Advertiser",
    "Found",
    "advertise_interfaces",
    "default_instance_name",
    "discover",
    "local_addresses",
    "txt_records",
]
