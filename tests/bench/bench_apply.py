#!/usr/bin/env python3
"""Issue 2 benchmarks: netpolicyd beside `nft -f` on the same work, same run.

  1. `netpolicyd --check` of a generated N-rule policy (default 20k) beside
     `nft -f` of the exported equivalent ruleset (netpolicyctl export).
  2. start to READY=1 of `netpolicyd --config` with an M-rule policy
     (default 10k) beside `nft -f` of its exported ruleset.

Everything that touches the kernel runs in a network namespace made here
(np-bench-<pid>), deleted on exit. Reports medians and peak RSS. Not a test:
it asserts nothing about speed, it measures.

usage: sudo tests/bench/bench_apply.py [--build DIR] [--check-rules N]
                                       [--apply-rules M] [--runs R]
"""
import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_timed(cmd, **kw):
    """Runs cmd, returns (seconds, peak RSS of the child in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(after, before) / 1024


def peak_rss_mib(cmd, **kw):
    """Peak RSS of one run, measured with GNU time (ru_maxrss is a maximum over
    all children so far, so a separate process gives a clean figure)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, **kw).stderr.strip().splitlines()[-1]
    return int(out) / 1024


def netns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def delete_table(ns):
    subprocess.run(netns(ns, "nft", "delete", "table", "inet", "netpolicy"),
                   stderr=subprocess.DEVNULL, check=False)


def start_to_ready(ns, netpolicyd, config, tmp):
    """Seconds from spawning netpolicyd to its READY=1; stops it afterwards."""
    path = os.path.join(tmp, "notify.sock")
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(120)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    start = time.perf_counter()
    proc = subprocess.Popen(
        netns(ns, netpolicyd, "--config", config, "--runtime-dir",
              os.path.join(tmp, "run"), "--state-dir", os.path.join(tmp, "state")),
        env=env, stderr=subprocess.DEVNULL)
    try:
        while True:
            msg = sock.recv(65536).decode()
            if "READY=1" in msg.split("\n"):
                elapsed = time.perf_counter() - start
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        sock.close()
    return elapsed


def median_ms(samples):
    return statistics.median(samples) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--check-rules", type=int, default=20000)
    ap.add_argument("--apply-rules", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_apply: needs root (network namespaces)")
    netpolicyd = os.path.join(args.build, "daemon", "netpolicyd")
    netpolicyctl = os.path.join(args.build, "daemon", "netpolicyctl")
    ns = f"np-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = []
            for label, rules in (("check", args.check_rules), ("apply", args.apply_rules)):
                policy = os.path.join(tmp, f"policy-{rules}.yaml")
                with open(policy, "w") as f:
                    # No protect rules: nft -f has no XFRM part to compare with.
                    subprocess.run([sys.executable, os.path.join(HERE, "gen_policy.py"),
                                    str(rules), "--protect-every", "0"], check=True, stdout=f)
                exported = os.path.join(tmp, f"policy-{rules}.nft")
                with open(exported, "w") as f:
                    subprocess.run(netns(ns, netpolicyctl, "export", policy),
                                   check=True, stdout=f)
                nft_times = []
                for _ in range(args.runs):
                    delete_table(ns)
                    nft_times.append(run_timed(netns(ns, "nft", "-f", exported))[0])
                delete_table(ns)
                nft_rss = peak_rss_mib(netns(ns, "nft", "-f", exported))
                delete_table(ns)
                if label == "check":
                    ours = [run_timed([netpolicyd, "--check", "--config", policy])[0]
                            for _ in range(args.runs)]
                    our_rss = peak_rss_mib([netpolicyd, "--check", "--config", policy])
                    name = f"netpolicyd --check, {rules} rules"
                else:
                    ours = []
                    for _ in range(args.runs):
                        delete_table(ns)
                        ours.append(start_to_ready(ns, netpolicyd, policy, tmp))
                    our_rss = float("nan")
                    name = f"netpolicyd start->READY=1, {rules} rules"
                delete_table(ns)
                rows.append((name, median_ms(ours), our_rss,
                             f"nft -f exported ruleset ({rules} rules)",
                             median_ms(nft_times), nft_rss))
            print(f"runs per figure: {args.runs} (median)")
            for name, ms, rss, base, base_ms, base_rss in rows:
                rss_text = "" if rss != rss else f", RSS {rss:.0f} MiB"
                print(f"{name}: {ms:.0f} ms{rss_text}")
                print(f"  beside {base}: {base_ms:.0f} ms, RSS {base_rss:.0f} MiB"
                      f"  -> ratio {ms / base_ms:.2f}")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
