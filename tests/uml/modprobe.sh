#!/bin/sh
# The UML guest's kernel.modprobe helper (set by init.sh). The kernel runs it
# as `modprobe -q -- <alias>` with a bare environment whenever it needs a
# module (xfrm_user, esp4, gcm, veth, ...). The modules for the guest kernel
# are not in the host's /lib/modules but in /usr/lib/uml/modules/<version>,
# which init.sh binds under /run/np-uml/modroot/lib/modules/<version>.
# Each request is logged so a test can tell what was loaded on demand.
echo "$*" >>/run/np-uml/modprobe.log 2>/dev/null
exec /sbin/modprobe -d /run/np-uml/modroot "$@"
