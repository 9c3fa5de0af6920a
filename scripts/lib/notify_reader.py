#!/usr/bin/python3
"""Stands in for systemd's notify socket: binds a datagram socket at PATH and
appends every sd_notify message to LOG, one field per line, each message
followed by a line "--" (socat would glue datagrams together)."""
import os
import socket
import sys


def main() -> int:
    path, log = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    with open(log, "a", encoding="utf-8") as out:
        out.write("")  # the file exists once the socket does
        out.flush()
        while True:
            data = sock.recv(65536)
            text = data.decode("utf-8", errors="replace")
            if not text.endswith("\n"):
                text += "\n"
            out.write(text + "--\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main())
