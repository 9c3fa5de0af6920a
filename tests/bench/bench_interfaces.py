#!/usr/bin/env python3
"""Issue 3 benchmarks: live interface tracking, timed from kernel notifications.

  1. event latency: an interface event (rename of an ifb link between a zone
     and no zone) -> the daemon's map element change committed in the kernel.
     Timed from the RTM_NEWLINK notification this script receives (the same
     moment netpolicyd receives it) to the first NFT_MSG_NEWSETELEM or
     DELSETELEM notification of the commit that follows; also from the
     rename request. Median and p99 over N events (default 1000).
  2. storm: M links (default 5000 ifb, half in a zone) created with
     `ip -batch` while netpolicyd reads (32 MiB buffer): time from the end
     of the batch until the last element notification, with the map then
     checked complete; the same storm while netpolicyd is stopped (SIGSTOP,
     4 KiB buffer: overflow, 5480, resync, 5490): time from SIGCONT until the
     map is complete. Beside them, in the same run, a bare RTM_GETLINK dump
     of those links (this script, raw netlink, no parsing beyond counting).

Everything runs in a network namespace made here (np-bench-ifaces-<pid>),
deleted on exit, and a mount namespace with an empty /run/systemd, so the
daemon's events go to its stderr and not into the host's journal. Not a test: it measures, it asserts only that the daemon
converged to the right map (a wrong answer fast is no answer).

usage: sudo tests/bench/bench_interfaces.py [--build DIR] [--events N] [--storm M]
                                            [--rules R]  (R more rules in the policy)
"""
import argparse
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# linux/netlink.h, rtnetlink.h, netfilter/nfnetlink.h, nf_tables.h
NETLINK_ROUTE, NETLINK_NETFILTER = 0, 12
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1
RTNLGRP_LINK, NFNLGRP_NFTABLES = 1, 7
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_GETLINK = 16, 18
IFLA_IFNAME = 3
NFT_NEWSETELEM = (10 << 8) | 12
NFT_DELSETELEM = (10 << 8) | 14

POLICY = """version: 1
settings:
  netlink_receive_buffer: {buffer}
zones:
  - {{name: lab, interfaces: ["vl*"]}}
  - {{name: storm, interfaces: ["st*"]}}
rules:
  - {{name: ssh, direction: in, zones: [lab], protocol: tcp, ports: [22], action: allow}}
"""


def nl_socket(proto, groups=()):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    s.bind((0, 0))
    s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
    for g in groups:
        s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g)
    return s


def messages(data):
    off = 0
    while off + 16 <= len(data):
        length, mtype, flags, seq, pid = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            break
        yield mtype, flags, data[off + 16:off + length]
        off += (length + 3) & ~3


def rename_request(ifindex, name, seq):
    name_b = name.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(name_b), IFLA_IFNAME) + name_b
    attr += b"\0" * ((4 - len(attr) % 4) % 4)
    body = struct.pack("=BxHiII", 0, 0, ifindex, 0, 0) + attr
    return struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def wait_ack(sock, seq):
    while True:
        for mtype, _, payload in messages(sock.recv(65536)):
            if mtype == NLMSG_ERROR:
                err = struct.unpack_from("=i", payload)[0]
                if err != 0:
                    raise OSError(-err, os.strerror(-err))
                return


def link_dump_count(sock, seq):
    """A bare RTM_GETLINK dump: the number of links, counted only."""
    req = struct.pack("=IHHII", 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    req += struct.pack("=BxHiII", 0, 0, 0, 0, 0)
    sock.send(req)
    n = 0
    while True:
        for mtype, _, _ in messages(sock.recv(1 << 16)):
            if mtype == NLMSG_DONE:
                return n
            if mtype == RTM_NEWLINK:
                n += 1


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(x):
    return f"{x * 1000:.3f} ms"


class Daemon:
    def __init__(self, build, workdir, buffer, extra_rules=0):
        self.config = os.path.join(workdir, f"policy-{buffer}.yaml")
        with open(self.config, "w") as f:
            f.write(POLICY.format(buffer=buffer))
            # More rules make each recompile dearer (an event recompiles
            # the whole policy, then sends only elements).
            for i in range(extra_rules):
                f.write(f"  - {{name: r{i}, direction: in, zones: [lab], protocol: tcp, "
                        f"ports: [{1024 + i % 60000}], action: allow}}\n")
        notify_path = os.path.join(workdir, f"notify-{buffer}.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        run = os.path.join(workdir, f"run-{buffer}")
        self.stderr = open(os.path.join(workdir, f"stderr-{buffer}"), "w+")
        self.proc = subprocess.Popen(
            [os.path.join(build, "daemon/netpolicyd"), "--config", self.config,
             "--runtime-dir", run, "--state-dir", os.path.join(workdir, "state")],
            env={**os.environ, "NOTIFY_SOCKET": notify_path},
            stdout=subprocess.DEVNULL, stderr=self.stderr)
        # Read every notification as the service manager would: a reader
        # that stops reading makes sd_notify block the daemon.
        self.ready = threading.Event()
        self.complete = threading.Event()
        self.incomplete_at = self.complete_at = None
        self.reader = threading.Thread(target=self._read_notify, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.ready.wait(0.2):
                return
        self.stderr.seek(0)
        sys.exit("netpolicyd did not become ready:\n" + self.stderr.read())

    def _read_notify(self):
        while True:
            data = self.notify.recv(4096)
            if not data:  # shut down by stop()
                return
            now = time.perf_counter()
            lines = data.split(b"\n")
            if b"READY=1" in lines:
                self.ready.set()
            for line in lines:  # when the interface view changed state
                if line.startswith(b"STATUS=") and b"interface view INCOMPLETE" in line:
                    self.incomplete_at = now
                elif line.startswith(b"STATUS=") and b"interface view complete" in line:
                    self.complete_at = now
                    self.complete.set()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        # Wake the reader and wait for it before the descriptor is closed:
        # a reader still looping could otherwise recv() on the number the
        # next daemon's socket gets, and steal its messages.
        self.notify.shutdown(socket.SHUT_RDWR)
        self.reader.join()
        self.notify.close()


def zone_in(target):
    out = subprocess.run(["nft", "-j", "list", "map", "inet", "netpolicy", "zone_in"],
                         check=True, capture_output=True, text=True).stdout
    elems = []
    for obj in json.loads(out)["nftables"]:
        if "map" in obj:
            elems = obj["map"].get("elem", [])
    return sorted(e[0] for e in elems if e[1]["jump"]["target"] == target)


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def bench_events(n):
    subprocess.run(["ip", "link", "add", "vl-bench", "type", "ifb"], check=True)
    idx = ifindex("vl-bench")
    rt = nl_socket(NETLINK_ROUTE, [RTNLGRP_LINK])
    req = nl_socket(NETLINK_ROUTE)
    nft = nl_socket(NETLINK_NETFILTER, [NFNLGRP_NFTABLES])
    # Let the creation settle, then drop what is queued.
    time.sleep(0.2)
    for s in (rt, nft):
        s.setblocking(False)
        try:
            while s.recv(1 << 16):
                pass
        except BlockingIOError:
            pass
        s.setblocking(True)
    from_event, from_request, lost = [], [], 0
    names = ["vx-bench", "vl-bench"]  # out of the zone, back in
    for i in range(n):
        name = names[i % 2]
        t_req = time.perf_counter()
        req.send(rename_request(idx, name, i + 1))
        wait_ack(req, i + 1)
        t_event = None
        while t_event is None:  # our copy of the notification netpolicyd gets
            data = rt.recv(1 << 16)
            now = time.perf_counter()
            for mtype, _, payload in messages(data):
                if mtype == RTM_NEWLINK and name.encode() + b"\0" in payload:
                    t_event = now
        r, _, _ = select.select([nft], [], [], 2.0)
        if not r:
            lost += 1
            continue
        data = nft.recv(1 << 16)
        t_map = time.perf_counter()
        if not any(m in (NFT_NEWSETELEM, NFT_DELSETELEM) for m, _, _ in messages(data)):
            lost += 1
        # The rest of the same commit (three maps): read it off.
        while select.select([nft], [], [], 0.005)[0]:
            nft.recv(1 << 16)
        from_event.append(t_map - t_event)
        from_request.append(t_map - t_req)
    subprocess.run(["ip", "link", "del", "vl-bench"], check=False)
    for s in (rt, req, nft):
        s.close()
    return from_event, from_request, lost


def make_storm(m, workdir):
    path = os.path.join(workdir, "storm.batch")
    with open(path, "w") as f:
        for i in range(m // 2):
            f.write(f"link add st{i} group 9 type ifb\nlink add sx{i} group 9 type ifb\n")
    return path, sorted(f"st{i}" for i in range(m // 2))


def bench_storm_reading(build, workdir, m, daemon):
    batch, expected = make_storm(m, workdir)
    nft = nl_socket(NETLINK_NETFILTER, [NFNLGRP_NFTABLES])
    t0 = time.perf_counter()
    subprocess.run(["ip", "-batch", batch], check=True)
    t_end = time.perf_counter()
    last = t_end
    while select.select([nft], [], [], 1.0)[0]:  # until a second without commits
        nft.recv(1 << 16)
        last = time.perf_counter()
    nft.close()
    got = zone_in("in_storm")
    ok = got == expected
    dump_sock = nl_socket(NETLINK_ROUTE)
    d0 = time.perf_counter()
    links = link_dump_count(dump_sock, 77)
    dump = time.perf_counter() - d0
    dump_sock.close()
    subprocess.run(["ip", "link", "del", "group", "9"], check=True)
    return {"create": t_end - t0, "converged_after_batch": last - t_end, "correct": ok,
            "links": links, "dump": dump}


def bench_storm_stopped(build, workdir, m, daemon):
    batch, expected = make_storm(m, workdir)
    daemon.proc.send_signal(signal.SIGSTOP)
    t0 = time.perf_counter()
    subprocess.run(["ip", "-batch", batch], check=True)
    create = time.perf_counter() - t0
    dump_sock = nl_socket(NETLINK_ROUTE)
    d0 = time.perf_counter()
    links = link_dump_count(dump_sock, 78)
    dump = time.perf_counter() - d0
    dump_sock.close()
    daemon.complete.clear()
    t_cont = time.perf_counter()
    daemon.proc.send_signal(signal.SIGCONT)
    # Complete when the daemon says so (STATUS= "interface view complete",
    # sent with 5490, read as it arrives) and the map is right.
    recovered = daemon.complete_at if daemon.complete.wait(60) else None
    incomplete = daemon.incomplete_at
    deadline = t_cont + 60
    got = zone_in("in_storm")
    daemon.stderr.seek(0)
    lines = [l for l in daemon.stderr.read().splitlines()
             if "interfaces-" in l or "re-reading the interface list failed" in l
             or "Failed to notify" in l]
    subprocess.run(["ip", "link", "del", "group", "9"], check=True)
    return {"create": create, "recovered_after_cont": (recovered or deadline) - t_cont,
            "incomplete_after_cont": (incomplete or deadline) - t_cont,
            "correct": got == expected and recovered is not None, "links": links, "dump": dump,
            "journal": lines}


def inner(args):
    workdir = tempfile.mkdtemp(prefix="np-bench-ifaces-")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    print(f"netpolicyd: {args.build}/daemon/netpolicyd; {os.cpu_count()} CPUs")

    daemon = Daemon(args.build, workdir, 32 << 20, args.rules)
    ev, req, lost = bench_events(args.events)
    print(f"\n1. interface event -> map element committed, {len(ev)} renames "
          f"({lost} without an element notification), policy of {args.rules + 1} rules")
    print(f"   from the RTM_NEWLINK notification: median {ms(statistics.median(ev))}, "
          f"p99 {ms(pct(ev, 99))}, max {ms(max(ev))}")
    print(f"   from the rename request:           median {ms(statistics.median(req))}, "
          f"p99 {ms(pct(req, 99))}, max {ms(max(req))}")

    r = bench_storm_reading(args.build, workdir, args.storm, daemon)
    print(f"\n2a. storm of {args.storm} ifb links, netpolicyd reading (32 MiB buffer)")
    print(f"   ip -batch: {ms(r['create'])}; last element commit {ms(r['converged_after_batch'])} "
          f"after the batch returned; map correct: {r['correct']}")
    print(f"   bare RTM_GETLINK dump of the {r['links']} links: {ms(r['dump'])}")
    daemon.stop()

    tiny = Daemon(args.build, workdir, 4096)
    r = bench_storm_stopped(args.build, workdir, args.storm, tiny)
    print(f"\n2b. storm of {args.storm} ifb links while netpolicyd is stopped (SIGSTOP, 4 KiB buffer)")
    print(f"   ip -batch: {ms(r['create'])}; after SIGCONT: incomplete (5480) seen in "
          f"{ms(r['incomplete_after_cont'])}, complete again (5490) in "
          f"{ms(r['recovered_after_cont'])}; map correct: {r['correct']}")
    print(f"   bare RTM_GETLINK dump of the {r['links']} links: {ms(r['dump'])}")
    for line in r["journal"]:
        print(f"   {line}")
    tiny.stop()
    subprocess.run(["rm", "-rf", workdir], check=False)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(HERE, "../../build"))
    p.add_argument("--events", type=int, default=1000)
    p.add_argument("--storm", type=int, default=5000)
    p.add_argument("--rules", type=int, default=0, help="extra rules in the policy")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.build = os.path.abspath(args.build)
    if args.inner:
        return inner(args)
    if os.geteuid() != 0:
        sys.exit("run as root: it makes a network namespace")
    ns = f"np-bench-ifaces-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        # A private, empty /run/systemd: the daemon's events go to stderr
        # only, never into the host's journal (and journald's own latency
        # stays out of the figures).
        inner_cmd = " ".join([sys.executable, os.path.abspath(__file__), "--inner", "--build",
                              args.build, "--events", str(args.events), "--storm",
                              str(args.storm), "--rules", str(args.rules)])
        subprocess.run(["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation",
                        "private", "--", "sh", "-c",
                        f"mount -t tmpfs np-bench /run/systemd && exec {inner_cmd}"],
                       check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
