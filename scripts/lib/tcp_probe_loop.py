#!/usr/bin/python3
"""Tries to open a TCP connection to ADDR PORT every INTERVAL seconds until
STOPFILE exists, each attempt with a connect timeout of INTERVAL. Writes
one line per attempt to LOG: "open <monotonic time>" when the connection
was established, "closed" otherwise. Used to prove that a blocked port
never opens, not even for an instant, while netpolicyd restarts."""
import os
import socket
import sys
import time


def main() -> int:
    addr, port, interval, log, stopfile = sys.argv[1:6]
    port_n, step = int(port), float(interval)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with open(log, "a", encoding="utf-8") as out:
        while not os.path.exists(stopfile):
            started = time.monotonic()
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(step)
            try:
                sock.connect((addr, port_n))
                out.write(f"open {started:.3f}\n")
            except OSError:
                out.write("closed\n")
            finally:
                sock.close()
            out.flush()
            rest = step - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
