"""node_uname_info: the uname(2) fields as labels (node_exporter's uname collector).

uname(2) answers for this process's UTS namespace: in a container the nodename is the container's
hostname unless it runs with the host's UTS namespace (as node_exporter's does in its documented setup).
"""

from __future__ import annotations

import os

from ..models import Sample
from .base import Cadence
from .common import BaseCollector, gauge, read_optional

HELP = "Labeled system information as provided by the uname system call."


class UnameCollector(BaseCollector):
    name = "uname"
    cadence = Cadence.SLOW  # changes only with the hostname; a syscall and one small read

    def collect(self) -> list[Sample]:
        uts = os.uname()
        # Python's uname has no domainname; the kernel shows the same UTS field here.
        domainname = read_optional(self.paths.in_proc("sys", "kernel", "domainname")) or ""
        return [
            gauge(
                "node_uname_info",
                1,
                HELP,
                sysname=uts.sysname,
                release=uts.release,
                version=uts.version,
                machine=uts.machine,
                nodename=uts.nodename,
                domainname=domainname,
            )
        ]
