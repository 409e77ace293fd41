#!/usr/bin/env python3
"""End-to-end benchmark: the router against the limits of its machine (issue #9).

Measures, in one run on one machine, the real itk-router (SOAP in -> SQLite store, fsync
durability -> route -> SOAP out) and nginx proxying the same messages to the same SOAP sink,
so every claim is a ratio measured side by side (docs/PERFORMANCE.md, "End to end").

  1. SOAP -> SOAP, messages of 2 KB, 6 KB, 64 KB and 1 MB:
     a. maximum rate: closed loop with --connections keep-alive connections, router and nginx
        runs interleaved (A B A B ...), each run on freshly started processes (and a fresh store);
        the router's rate is what it accepted (HTTP 200 to the generator) and what reached the
        sink in the same window; its "sustained" rate is the smaller of the two.
     b. latency: fixed rate (open loop, latency from the scheduled send time) at 50 % and 90 % of
        each one's own maximum, interleaved again.
  2. Variants (--variant-size, 6 KB): closed-loop maxima of configurations side by side, in an
     order rotated every repetition: the router with log level warn, with `os` durability, another
     router binary (before/after a change), nginx with one worker (--variants).
  3. Profile: perf (cpu-clock, DWARF call graphs) attached to the router under closed-loop load;
     each sample is given to a stage of the router's work (PROFILE_STAGES). Skipped without perf.
  4. MESH -> SOAP: messages preloaded in the fake MESH server's inbox (tests/fakes/mesh_server.py),
     the router polling every 100 ms, delivered/s at the sink; baseline: a bare MESH client that
     only lists, downloads and acknowledges the same messages (the fake server's ceiling).
  5. Backlog: a store holding --backlog queued messages (itk_queue_fill), the real router started
     on it: time to /readyz 200 and to the first accepted SOAP request, resident memory after
     start and during the drain, drain rate at the sink.

Per run it records messages/s, latency percentiles, CPU seconds of each process over the
measurement window (/proc/PID/stat), peak resident memory (VmHWM) and the load average. Writes
OUT/results.json, OUT/results.md and OUT/e2e-throughput.png, OUT/e2e-latency.png (gnuplot);
--publish DIR copies the plots there (docs/).

Usage: tests/bench/e2e.py [--build build/bench] [--out DIR] [--quick] [--only PHASES] [options];
`make bench` runs it after the Google Benchmark cases (QUICK=1: --quick, a smoke run of a few
minutes; E2E_ARGS passes options; E2E=0 skips it). A full run takes about 25 minutes.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZES = {"2k": 2048, "6k": 6144, "64k": 65536, "1m": 1048576}


def log(*args):
    print("[e2e %s]" % time.strftime("%H:%M:%S"), *args, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_status(pid):
    """VmRSS and VmHWM of a process in MiB (None when it is gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return out


def proc_cpu(pid):
    """utime + stime of every thread of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def http_get(port, path, timeout=1.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, argv, log_path, cwd=None, env=None, stdout_pipe=False):
        self.log_path = log_path
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self.log_file, stderr=self.log_file)
        self.pid = self.proc.pid

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def alive(self):
        return self.proc.poll() is None


class Sink:
    """The SOAP sink both the router and nginx deliver to (itk_soap_sink)."""

    def __init__(self, args, workdir):
        self.p = Process([args.bin("itk_soap_sink"), "--threads", str(args.sink_threads)],
                         os.path.join(workdir, "sink.log"), stdout_pipe=True)
        line = self.p.proc.stdout.readline().decode()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            raise RuntimeError("the SOAP sink did not start: %r" % line)
        self.port = int(m.group(1))
        self.url = "http://127.0.0.1:%d/itk" % self.port
        self.stats_url = "http://127.0.0.1:%d/stats" % self.port

    def count(self):
        return json.loads(http_get(self.port, "/stats")[1])["requests"]

    def stop(self):
        self.p.stop()


class Nginx:
    """nginx (Debian package) as a keep-alive reverse proxy in front of the sink."""

    def __init__(self, args, workdir, sink_port):
        self.dir = tempfile.mkdtemp(prefix="nginx-", dir=workdir)
        self.port = free_port()
        access = ("access_log %s/access.log;" % self.dir if args.nginx_access_log
                  else "access_log off;")
        conf = """
worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  {access}
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  client_max_body_size 8m;
  client_body_buffer_size 2m;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  upstream sink {{
    server 127.0.0.1:{sink};
    keepalive 128;
    keepalive_requests 10000000;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://sink;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""".format(workers=args.nginx_workers, dir=self.dir, access=access, sink=sink_port, port=self.port)
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        self.p = Process(["nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
                          "-e", os.path.join(self.dir, "error.log")],
                         os.path.join(self.dir, "stderr.log"))
        if not wait_port(self.port):
            raise RuntimeError("nginx did not start; see %s" % self.dir)
        deadline = time.time() + 5
        while not self.workers() and time.time() < deadline:
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%d/itk" % self.port

    def workers(self):
        return children(self.p.pid)

    def watch(self):
        """--watch arguments: the master and every worker."""
        pids = [self.p.pid] + self.workers()
        return ["nginx%d=%d" % (i, pid) for i, pid in enumerate(pids)]

    def peak_rss(self):
        total = 0.0
        for pid in [self.p.pid] + self.workers():
            st = proc_status(pid)
            if st:
                total += st["VmHWM"]
        return total

    def stop(self):
        self.p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


ROUTER_YAML = """identity:
  audit_identity: urn:nhs-uk:identity:ods:X09:itkrouter
  sender_address: urn:nhs-uk:addressing:ods:X09:itkrouter
  username: itk-router-bench
threads: {threads}
data_dir: {dir}/var
log:
  level: {log_level}
store:
  backend: sqlite
  path: {store}
  durability: {durability}
routing:
  tables: [{dir}/routes.yaml]
  watch: false
admin:
  listen: 127.0.0.1:{admin}
delivery:
  poll_interval: 100ms
transports:
  soap:
    listeners:
      - name: itk
        listen: 127.0.0.1:{port}
        path: /itk
        limits: {{max_body_bytes: 8388608, max_connections: 8192}}
{extra}"""

ROUTES_YAML = """endpoints:
  trust-soap:
    transport: soap
    max_concurrency: {concurrency}
    urls: [{sink_url}]
routes:
  - name: gp-to-trust
    endpoint: trust-soap
"""


class Router:
    """The real itk-router on a generated configuration: SOAP listener, SQLite store (fsync),
    one SOAP endpoint (the sink), one route for everything."""

    def __init__(self, args, workdir, sink_url, store=None, extra_transports="", name="router"):
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=workdir)
        self.port = free_port()
        self.admin = free_port()
        self.store = store or os.path.join(self.dir, "store.db")
        with open(os.path.join(self.dir, "routes.yaml"), "w") as f:
            f.write(ROUTES_YAML.format(concurrency=args.router_concurrency, sink_url=sink_url))
        with open(os.path.join(self.dir, "router.yaml"), "w") as f:
            f.write(ROUTER_YAML.format(threads=args.router_threads, dir=self.dir,
                                       log_level=args.router_log_level, store=self.store,
                                       durability=args.durability, admin=self.admin,
                                       port=self.port, extra=extra_transports))
        env = dict(os.environ)
        env.update(args.router_env)
        self.started = time.monotonic()
        self.p = Process([args.router_bin or args.bin("itk-router", "router"), "--config",
                          os.path.join(self.dir, "router.yaml")],
                         os.path.join(self.dir, "router.log"), cwd=self.dir, env=env)
        self.url = "http://127.0.0.1:%d/itk" % self.port

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.p.alive():
                raise RuntimeError("the router exited; see %s/router.log" % self.dir)
            try:
                if http_get(self.admin, "/readyz", timeout=0.5)[0] == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("the router was not ready within %d s; see %s" % (timeout, self.dir))

    def status(self):
        return proc_status(self.p.pid)

    def stop(self, keep=False):
        self.p.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        os.makedirs(self.out, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="itk-e2e-", dir=args.tmp)
        self.results = {
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": machine(),
            "settings": {k: v for k, v in vars(args).items() if k not in ("bin",)},
            "malloc_env": {k: v for k, v in os.environ.items()
                           if k.startswith(("MALLOC_", "GLIBC_TUNABLES"))},
            "runs": [], "mesh": [], "backlog": {},
        }
        self.sink = Sink(args, self.work)

    # ---- one load-generator run ----

    def loadgen(self, url, size, label, rate=0.0, watch=(), duration=None, warmup=None):
        a = self.args
        out = os.path.join(self.work, "loadgen.json")
        argv = [a.bin("itk_loadgen"), "--url", url, "--size", str(size),
                "--connections", str(a.connections), "--threads", str(a.loadgen_threads),
                "--warmup", str(warmup if warmup is not None else a.warmup),
                "--duration", str(duration if duration is not None else a.duration),
                "--stats-url", self.sink.stats_url, "--json", out, "--label", label,
                "--watch", "sink=%d" % self.sink.p.pid]
        if rate > 0:
            argv += ["--rate", "%.1f" % rate]
        for w in watch:
            argv += ["--watch", w]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)

    def drain(self, before, expected, timeout=120):
        """Waits until the sink has `expected` more requests than `before` (the router's backlog
        is delivered); returns (seconds, delivered)."""
        t0 = time.monotonic()
        last, last_change = self.sink.count(), time.monotonic()
        while last - before < expected and time.monotonic() - t0 < timeout:
            time.sleep(0.05)
            n = self.sink.count()
            if n != last:
                last, last_change = n, time.monotonic()
            elif time.monotonic() - last_change > 5:
                break  # nothing moved for 5 s
        return time.monotonic() - t0, last - before

    def run_router(self, size, phase, rate=0.0, rep=0, args=None):
        load = loadavg()
        r = Router(args or self.args, self.work, self.sink.url)
        try:
            r.wait_ready()
            before = self.sink.count()
            res = self.loadgen(r.url, size, "router", rate, watch=["router=%d" % r.p.pid])
            # Everything accepted (the window and around it) must reach the sink: wait for it.
            accepted_total = res.get("ok_total")
            drain_s, delivered = self.drain(before, accepted_total or 0,
                                            timeout=self.args.drain_timeout)
            st = r.status() or {}
            res.update(system="router", phase=phase, rep=rep, load=load,
                       peak_rss_mib=st.get("VmHWM"), drain_s=drain_s,
                       delivered_total=delivered, cpu_system_s=res["cpu_s"].get("router"))
        finally:
            r.stop()
        return res

    def run_nginx(self, size, phase, rate=0.0, rep=0, args=None):
        load = loadavg()
        n = Nginx(args or self.args, self.work, self.sink.port)
        try:
            res = self.loadgen(n.url, size, "nginx", rate, watch=n.watch())
            res.update(system="nginx", phase=phase, rep=rep, load=load,
                       peak_rss_mib=n.peak_rss(),
                       cpu_system_s=sum(v for k, v in res["cpu_s"].items()
                                        if k.startswith("nginx")))
        finally:
            n.stop()
        return res

    def record(self, res, size_name):
        res["size"] = size_name
        self.results["runs"].append(res)
        lat = res["latency_us"]
        extra = ""
        if res["system"] == "router":
            extra = " delivered/s %.0f drain %.1fs" % (res.get("delivered_per_s", 0),
                                                       res.get("drain_s", 0))
        log("%-6s %-4s %-7s %s%s ok/s %8.0f%s p50 %.0fus p99 %.0fus cpu %.2fs rss %.0fMiB err %s "
            "load %.1f"
            % (res["system"], size_name, res["phase"],
               res["variant"] + " " if "variant" in res else "",
               ("rate %.0f" % res["target_rate"]) if res["target_rate"] else "closed",
               res["ok_per_s"], extra, lat["p50"], lat["p99"], res["cpu_system_s"] or 0,
               res["peak_rss_mib"] or 0, res["errors"] or "-", res["load"][0]))
        self.save()

    # ---- phases ----

    def soap(self):
        a = self.args
        maxima = {}
        for name in a.sizes:
            size = SIZES[name]
            for rep in range(a.reps):
                # A B A B: the router first in even repetitions, nginx first in odd ones.
                order = ("router", "nginx") if rep % 2 == 0 else ("nginx", "router")
                for system in order:
                    run = self.run_router if system == "router" else self.run_nginx
                    self.record(run(size, "max", rep=rep), name)
            maxima[name] = self.maxima(name)
            log("max %s: router %.0f/s (sustained), nginx %.0f/s" % (name, maxima[name]["router"],
                                                                       maxima[name]["nginx"]))
        for name in a.sizes:
            size = SIZES[name]
            for level in a.levels:
                for rep in range(a.rate_reps):
                    order = ("router", "nginx") if rep % 2 == 0 else ("nginx", "router")
                    for system in order:
                        rate = level * maxima[name][system]
                        run = self.run_router if system == "router" else self.run_nginx
                        res = run(size, "%d%%" % round(level * 100), rate=rate, rep=rep)
                        res["level"] = level
                        self.record(res, name)

    def variants(self):
        """Closed-loop maxima of configuration variants of one size, interleaved: what logging,
        fsync or nginx's worker count cost, measured side by side."""
        a = self.args
        size = SIZES[a.variant_size]
        specs = [v.strip() for v in a.variants.split(",") if v.strip()]
        for rep in range(a.reps):
            order = specs[rep % len(specs):] + specs[:rep % len(specs)]  # rotate the order
            for spec in order:
                system, _, opts = spec.partition(":")
                va = argparse.Namespace(**vars(a))
                va.router_env = dict(a.router_env)
                for kv in filter(None, opts.split(";")):
                    k, v = kv.split("=", 1)
                    if k == "env":  # env=NAME=VALUE: the router's environment (malloc settings)
                        name, value = v.split("=", 1)
                        va.router_env[name] = value
                        continue
                    key = {"log": "router_log_level", "durability": "durability",
                           "threads": "router_threads", "concurrency": "router_concurrency",
                           "bin": "router_bin",
                           "workers": "nginx_workers", "access_log": "nginx_access_log"}[k]
                    cur = getattr(va, key)
                    typed = cur is not None and not isinstance(cur, str)
                    setattr(va, key, type(cur)(v) if typed else v)
                run = self.run_router if system == "router" else self.run_nginx
                res = run(size, "variant", rep=rep, args=va)
                res["variant"] = spec
                self.record(res, a.variant_size)

    def profile(self):
        """Where the router's CPU goes: perf (cpu-clock, DWARF call graphs) attached to the router
        for --profile-seconds in the middle of a closed-loop run of --variant-size messages; each
        sample is given to the first stage of PROFILE_STAGES its call chain passes through."""
        a = self.args
        if not perf_works():
            log("profile: perf cannot record here (install linux-perf): skipped")
            return
        size = SIZES[a.variant_size]
        load = loadavg()
        r = Router(a, self.work, self.sink.url)
        data = os.path.join(self.work, "perf.data")
        try:
            r.wait_ready()
            warmup = 2.0
            duration = a.profile_seconds + 4
            perf = subprocess.Popen(
                ["sh", "-c", "sleep %g; exec perf record -q -e cpu-clock -F %d --call-graph "
                 "dwarf,16384 -p %d -o %s -- sleep %g"
                 % (warmup + 2, a.profile_hz, r.p.pid, data, a.profile_seconds)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            res = self.loadgen(r.url, size, "router", watch=["router=%d" % r.p.pid],
                               duration=duration, warmup=warmup)
            perf.wait()
        finally:
            r.stop()
        script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym,dso"],
                                capture_output=True, text=True).stdout
        stages, dsos, total = classify_samples(script)
        us_per_msg = res["cpu_s"].get("router", 0) / max(res["completed"], 1) * 1e6
        out = {"size": a.variant_size, "load": load, "samples": total, "ok_per_s": res["ok_per_s"],
               "delivered_per_s": res.get("delivered_per_s"), "router_cpu_us_per_msg": us_per_msg,
               "stages": stages, "dsos": dsos,
               "command": "perf record -e cpu-clock -F %d --call-graph dwarf,16384 -p ROUTER "
                          "-- sleep %g" % (a.profile_hz, a.profile_seconds)}
        self.results["profile"] = out
        self.save()
        log("profile: %d samples, router %.0f µs CPU/msg at %.0f msg/s, load %.1f"
            % (total, us_per_msg, res["ok_per_s"], load[0]))

    def maxima(self, name):
        runs = [r for r in self.results["runs"] if r["size"] == name and r["phase"] == "max"]
        out = {}
        for system in ("router", "nginx"):
            out[system] = median([sustained(r) for r in runs if r["system"] == system])
        return out

    def mesh(self):
        a = self.args
        # The fake answers with headers and body in separate writes; with Nagle's algorithm on,
        # each answer waits for the client's delayed ACK (~40 ms), which caps any client at
        # ~20 messages/s. --mesh-nodelay (default) starts it with TCP_NODELAY, unchanged
        # otherwise (socketserver's disable_nagle_algorithm).
        fakes = os.path.join(ROOT, "tests/fakes")
        launcher = ("import sys; sys.path.insert(0, %r); import mesh_server as m; "
                    "m.Handler.disable_nagle_algorithm = %s; sys.argv[0] = 'mesh_server.py'; "
                    "m.main()"
                    % (fakes, bool(a.mesh_nodelay)))
        fake = Process([sys.executable, "-c", launcher, "--port", "0"],
                       os.path.join(self.work, "mesh.log"), stdout_pipe=True)
        line = fake.proc.stdout.readline().decode()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            raise RuntimeError("the fake MESH server did not start: %r" % line)
        port = int(m.group(1))
        de = self.de_template(a.mesh_size)
        try:
            for rep in range(a.mesh_reps):
                order = ("router", "client") if rep % 2 == 0 else ("client", "router")
                for who in order:
                    load = loadavg()
                    http_req(port, "DELETE", "/messageexchange/admin/reset")
                    preload(port, de, a.mesh_messages)
                    cpu0 = proc_cpu(fake.pid)
                    if who == "router":
                        res = self.mesh_router(port)
                    else:
                        res = mesh_client(port, a.mesh_messages)
                    res.update(system=who, rep=rep, load=load, messages=a.mesh_messages,
                               fake_cpu_s=proc_cpu(fake.pid) - cpu0, de_bytes=len(de))
                    self.results["mesh"].append(res)
                    log("mesh %-6s %5d msgs in %.2fs = %.0f/s (fake MESH cpu %.1fs) load %.1f"
                        % (who, res["delivered"], res["seconds"], res["per_s"], res["fake_cpu_s"],
                           load[0]))
                    self.save()
        finally:
            fake.stop()

    def mesh_router(self, mesh_port):
        a = self.args
        extra = """  mesh:
    url: http://127.0.0.1:{port}
    shared_key: TestKey
    mailboxes:
      - id: X26ABC1
        password: password
        poll_interval: 100ms
""".format(port=mesh_port)
        before = self.sink.count()
        r = Router(a, self.work, self.sink.url, extra_transports=extra, name="router-mesh")
        try:
            r.wait_ready()
            cpu0 = proc_cpu(r.p.pid)
            t_first = None
            t0 = time.monotonic()
            n = 0
            last_change = t0
            while n < a.mesh_messages and time.monotonic() - last_change < 10:
                time.sleep(0.02)
                c = self.sink.count() - before
                if c != n:
                    n, last_change = c, time.monotonic()
                    if t_first is None:
                        t_first = last_change
            t_last = last_change
            secs = t_last - (t_first or t0)
            st = r.status() or {}
            return {"delivered": n, "seconds": secs,
                    "per_s": (n - 1) / secs if secs > 0 and n > 1 else 0,
                    "router_cpu_s": proc_cpu(r.p.pid) - cpu0, "peak_rss_mib": st.get("VmHWM"),
                    "first_after_ready_s": (t_first - t0) if t_first else None}
        finally:
            r.stop()

    def de_template(self, size):
        soap = subprocess.run(
            [self.args.bin("itk_loadgen"), "--print-message", "--size", str(size)],
            check=True, capture_output=True).stdout.decode()
        start = soap.index("<itk:DistributionEnvelope")
        end = soap.index("</itk:DistributionEnvelope>") + len("</itk:DistributionEnvelope>")
        return soap[start:end]

    def validate(self):
        """Every message size the generator makes passes the router's own checks."""
        for name in self.args.sizes:
            path = os.path.join(self.work, "sample-%s.xml" % name)
            with open(path, "wb") as f:
                f.write(subprocess.run([self.args.bin("itk_loadgen"), "--print-message", "--size",
                                        str(SIZES[name])], check=True, capture_output=True).stdout)
            v = subprocess.run([self.args.bin("itk-router", "router"), "validate", path],
                               capture_output=True, text=True)
            if v.returncode != 0:
                raise RuntimeError("itk-router validate refused the %s message:\n%s%s"
                                   % (name, v.stdout, v.stderr))
            log("validated the %s message (%d bytes): %s" % (name, os.path.getsize(path),
                                                             v.stdout.strip().splitlines()[-1:]))

    def backlog(self):
        a = self.args
        count = a.backlog
        need = count * (a.backlog_body + 1500) * 1.3
        free = shutil.disk_usage(a.tmp).free
        if need > free * 0.8:
            count = int(free * 0.8 / ((a.backlog_body + 1500) * 1.3))
            log("backlog: only %.1f GB free in %s: %d messages instead of %d"
                % (free / 1e9, a.tmp, count, a.backlog))
        store = os.path.join(self.work, "backlog.db")
        t0 = time.monotonic()
        subprocess.run([a.bin("itk_queue_fill"), "--store", store, "--count", str(count),
                        "--body-bytes", str(a.backlog_body)], check=True)
        gen_s = time.monotonic() - t0
        size_mb = sum(os.path.getsize(store + s) for s in ("", "-wal")
                      if os.path.exists(store + s)) / 1e6
        out = {"queued": count, "body_bytes": a.backlog_body, "generate_s": gen_s,
               "file_mb": size_mb, "restarts": []}
        log("backlog: %d queued messages, %.0f MB, generated in %.0f s" % (count, size_mb, gen_s))
        sample = os.path.join(self.work, "probe.xml")
        try:
            for rep in range(a.backlog_restarts):
                with open(sample, "wb") as f:
                    f.write(subprocess.run(
                        [a.bin("itk_loadgen"), "--print-message", "--size", "6144"],
                        check=True, capture_output=True).stdout)
                with open(sample, "rb") as f:
                    probe = f.read()
                out["restarts"].append(self.backlog_restart(store, probe, rep))
                self.results["backlog"] = out
                self.save()
        finally:
            for s in ("", "-wal", "-shm", "-router.lock"):
                if os.path.exists(store + s):
                    os.remove(store + s)

    def backlog_restart(self, store, probe, rep):
        a = self.args
        load = loadavg()
        before = self.sink.count()
        r = Router(a, self.work, self.sink.url, store=store, name="router-backlog")
        times = {}

        def ready():
            times["readyz_s"] = r.wait_ready(timeout=120)
            times["rss_at_ready_mib"] = (r.status() or {}).get("VmRSS")

        def first_accept():
            deadline = time.time() + 120
            while time.time() < deadline and r.p.alive():
                try:
                    c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=2)
                    c.request("POST", "/itk", probe, {
                        "Content-Type": "text/xml; charset=UTF-8",
                        "SOAPAction": '"urn:nhs-itk:services:201005:SendCDADocument-v2-0"'})
                    resp = c.getresponse()
                    body = resp.read()
                    c.close()
                    if resp.status == 200 and b"SimpleMessageResponse" in body:
                        times["first_accept_s"] = time.monotonic() - r.started
                        return
                except OSError:
                    pass
                time.sleep(0.005)

        threads = [threading.Thread(target=ready), threading.Thread(target=first_accept)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            # Drain for a while: the rate at the sink, CPU, resident memory.
            cpu0, n0, t0 = proc_cpu(r.p.pid), self.sink.count(), time.monotonic()
            samples = []
            while time.monotonic() - t0 < a.drain_seconds:
                time.sleep(1)
                samples.append((time.monotonic() - t0, self.sink.count() - n0,
                                (r.status() or {}).get("VmRSS")))
            secs = time.monotonic() - t0
            n = self.sink.count() - n0
            st = r.status() or {}
            res = dict(times, rep=rep, load=load, drain_s=secs, drained=n, drain_per_s=n / secs,
                       delivered_before_drain=n0 - before,
                       router_cpu_s=proc_cpu(r.p.pid) - cpu0, peak_rss_mib=st.get("VmHWM"),
                       rss_end_mib=st.get("VmRSS"), samples=samples)
        finally:
            r.stop()
        log("backlog restart %d: readyz %.2fs, first accept %.2fs, RSS at ready %.0f MiB, "
            "drain %.0f/s, peak RSS %.0f MiB, load %.1f"
            % (rep, res.get("readyz_s", -1), res.get("first_accept_s", -1),
               res.get("rss_at_ready_mib") or -1, res["drain_per_s"], res["peak_rss_mib"] or -1,
               load[0]))
        return res

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)

    def close(self):
        self.sink.stop()
        shutil.rmtree(self.work, ignore_errors=True)


# ---- MESH helpers ----

def http_req(port, method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body, headers or {})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, data


def preload(port, de, n):
    """n copies of the DE (each with its own tracking id) in mailbox X26ABC1's inbox."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(n):
        tracking = str(uuid.uuid4()).upper()
        data = re.sub(r'trackingid="[^"]+"', 'trackingid="%s"' % tracking, de, count=1)
        body = json.dumps({"from": "X26ABC2", "to": "X26ABC1", "workflow_id": "ITK_BENCH",
                           "local_id": tracking,
                           "data_b64": base64.b64encode(data.encode()).decode()})
        status, _ = http_req(port, "POST", "/messageexchange/admin/inject", body,
                             {"Content-Type": "application/json"}, conn=c)
        if status != 200:
            raise RuntimeError("the fake MESH server refused an inject: %d" % status)
    c.close()


class MeshAuth:
    """NHSMESH mailbox:nonce:count:timestamp:hmac (spec/itk3-mesh.md §3.2)."""

    def __init__(self, mailbox="X26ABC1", password="password", key="TestKey"):
        self.mailbox, self.password, self.key = mailbox, password, key

    def header(self):
        nonce = str(uuid.uuid4())
        ts = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M")
        msg = "%s:%s:1:%s:%s" % (self.mailbox, nonce, self.password, ts)
        digest = hmac.new(self.key.encode(), msg.encode(), hashlib.sha256).hexdigest()
        return "NHSMESH %s:%s:1:%s:%s" % (self.mailbox, nonce, ts, digest)


def mesh_client(port, expected):
    """The baseline: a bare MESH client doing what the router's inbound does on the wire (list,
    download, acknowledge, one message at a time, keep-alive) and nothing else."""
    auth = MeshAuth()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    v2 = "application/vnd.mesh.v2+json"
    done = 0
    t0 = time.monotonic()
    t_first = None
    while done < expected and time.monotonic() - t0 < 300:
        status, body = http_req(port, "GET", "/messageexchange/X26ABC1/inbox?max_results=500", None,
                                {"Authorization": auth.header(), "Accept": v2}, conn=c)
        ids = json.loads(body)["messages"] if status == 200 else []
        if not ids:
            time.sleep(0.1)
            continue
        for mid in ids:
            s1, _ = http_req(port, "GET", "/messageexchange/X26ABC1/inbox/" + mid, None,
                             {"Authorization": auth.header(), "Accept": v2}, conn=c)
            s2, _ = http_req(port, "PUT",
                             "/messageexchange/X26ABC1/inbox/%s/status/acknowledged" % mid,
                             b"", {"Authorization": auth.header(), "Accept": v2}, conn=c)
            if s1 == 200 and s2 == 200:
                done += 1
                if t_first is None:
                    t_first = time.monotonic()
    c.close()
    secs = time.monotonic() - (t_first or t0)
    return {"delivered": done, "seconds": secs, "per_s": (done - 1) / secs if done > 1 else 0}


# ---- Profile ----

# Stages of the router's work, each named by functions its call chains pass through. A sample
# goes to the first stage (in this order) with a function on its call chain.
PROFILE_STAGES = [
    ("logging: one formatted line per event, written at once", ["itk::log::write"]),
    ("delivery: reading the next hop's answer (Xerces SAX)", ["SoapTransport::settle"]),
    ("delivery: building the SOAP request, handing it to the HTTP client",
     ["SoapTransport::attempt", "SoapTransport::send", "SoapTransport>::send"]),
    ("delivery: loading the message from the store (SQLite read)", ["SqliteStore::loadMessage"]),
    ("delivery: dead-letter query at every pump (SQLite read)", ["offerDeadLetters"]),
    ("delivery engine: other", ["DeliveryEngine::"]),
    ("store writer: WAL checkpoint run inline", ["SqliteStore::walHook"]),
    ("store: background WAL checkpoint", ["SqliteStore::checkpointLoop"]),
    ("store writer: accept (message, body, delivery, dedup key, audit rows)",
     ["SqliteStore::applyAccept"]),
    ("store writer: record an attempt", ["SqliteStore::applyAttempt"]),
    ("store writer: claim due deliveries", ["SqliteStore::applyClaim"]),
    ("store writer: BEGIN/COMMIT (WAL writes, fsync)", ["itk::sqlite::Db::exec"]),
    ("store writer: queue, other", ["SqliteStore::writerLoop", "SqliteStore::runGroup"]),
    ("store callbacks: answering senders", ["CallbackThread"]),
    ("inbound: SOAP read (Xerces SAX)", ["itk::itk2::readItkDocument"]),
    ("inbound: checks, DE copy, routing",
     ["checkSoapRequest", "messageHeaderOf", "forwardableBytes", "itk::Router::accept",
      "RoutingTable"]),
    ("inbound: SOAP listener, other", ["SoapTransport::handle"]),
    ("HTTP server (listener): read, parse, write", ["http::(anonymous namespace)::Session"]),
    ("HTTP client (to the next hop): read, parse, write", ["itk::http::"]),
    ("event loop: epoll, strands, timers, wake-ups", ["boost::asio::"]),
]


def classify_samples(script):
    stages, dsos = {}, {}
    total = 0
    for block in script.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if len(lines) < 2:
            continue
        frames = lines[1:]
        total += 1
        dso = "?"
        for frame in frames:  # the leaf's library; "(inlined)" frames belong to the next one
            m = re.search(r"\(([^()]*)\)\s*$", frame)
            if m and m.group(1) != "inlined":
                dso = os.path.basename(m.group(1))
                break
        dso = "kernel" if "kernel" in dso else re.sub(r"\.so.*", "", dso)
        dsos[dso] = dsos.get(dso, 0) + 1
        chain = "\n".join(frames)
        for name, markers in PROFILE_STAGES:
            if any(mk in chain for mk in markers):
                break
        else:
            name = "other (threads' start-up, unwinding stopped early)"
        stages[name] = stages.get(name, 0) + 1
    share = lambda d: sorted(((k, v / max(total, 1)) for k, v in d.items()), key=lambda kv: -kv[1])
    return share(stages), share(dsos), total


def perf_works():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
                       capture_output=True)
    return r.returncode == 0


# ---- Summaries ----

def sustained(r):
    """A router run's sustainable rate: what it accepted and also delivered in the window."""
    if r["system"] == "router":
        return min(r["ok_per_s"], r.get("delivered_per_s", r["ok_per_s"]))
    return r["ok_per_s"]


def machine():
    info = {"nproc": os.cpu_count(), "kernel": os.uname().release}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["nginx"] = subprocess.run(["nginx", "-v"], capture_output=True,
                                       text=True).stderr.strip()
    except OSError:
        pass
    return info


def fmt(x, spec="%.0f"):
    return "–" if x is None else spec % x


def summarise(results, args):
    runs = results["runs"]
    lines = []
    add = lines.append
    m = results["machine"]
    add("Machine: %s × %s, kernel %s, %s; load average (1 min) during the runs %s–%s."
        % (m.get("nproc"), m.get("cpu"), m.get("kernel"), m.get("nginx"),
           fmt(min((r["load"][0] for r in runs), default=None), "%.1f"),
           fmt(max((r["load"][0] for r in runs), default=None), "%.1f")))
    add("Settings: %d connections, closed-loop runs of %gs after %gs warm-up, %d repetitions "
        "(router and nginx interleaved), fixed-rate runs at %s of each one's maximum, %d "
        "repetitions; nginx worker_processes %s; router threads %s, durability %s, endpoint "
        "max_concurrency %d, log level %s; malloc: %s."
        % (args.connections, args.duration, args.warmup, args.reps,
           "/".join("%d%%" % round(l * 100) for l in args.levels), args.rate_reps,
           args.nginx_workers, args.router_threads or "one per core", args.durability,
           args.router_concurrency, args.router_log_level,
           ", ".join("%s=%s" % kv for kv in sorted(results["malloc_env"].items()))
           or "glibc defaults"))
    add("")
    add("**Maximum rate** (closed loop; medians of the repetitions; the ratio is the median of the "
        "ratios of the router run and the nginx run of each repetition):")
    add("")
    add("| size | nginx msg/s | router accepted/s | router delivered/s | router/nginx | "
        "CPU µs/msg nginx | CPU µs/msg router | peak RSS nginx | peak RSS router | load |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.sizes:
        rs = [r for r in runs if r["size"] == name and r["phase"] == "max"]
        ro = [r for r in rs if r["system"] == "router"]
        ng = [r for r in rs if r["system"] == "nginx"]
        if not ro or not ng:
            continue
        ratios = []
        for rep in sorted({r["rep"] for r in rs}):
            a = [sustained(r) for r in ro if r["rep"] == rep]
            b = [sustained(r) for r in ng if r["rep"] == rep]
            if a and b and b[0]:
                ratios.append(a[0] / b[0])
        add("| %s | %s | %s | %s | **%s×** (%s) | %s | %s | %s MiB | %s MiB | %s |" % (
            name, fmt(median([r["ok_per_s"] for r in ng])),
            fmt(median([r["ok_per_s"] for r in ro])),
            fmt(median([r.get("delivered_per_s") for r in ro])),
            fmt(median(ratios), "%.2f"), ", ".join("%.2f" % x for x in ratios),
            fmt(median([cpu_per_msg(r) for r in ng]), "%.0f"),
            fmt(median([cpu_per_msg(r) for r in ro]), "%.0f"),
            fmt(median([r["peak_rss_mib"] for r in ng]), "%.0f"),
            fmt(median([r["peak_rss_mib"] for r in ro]), "%.0f"),
            "%.1f–%.1f" % (min(r["load"][0] for r in rs), max(r["load"][0] for r in rs))))
    add("")
    add("**Latency at a fixed rate** (open loop, from the scheduled send time; medians of the "
        "repetitions; µs):")
    add("")
    add("| size | load level | system | rate msg/s | achieved | p50 | p99 | p99.9 | max | "
        "CPU µs/msg | errors | load |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.sizes:
        for level in args.levels:
            for system in ("router", "nginx"):
                rs = [r for r in runs if r["size"] == name and r.get("level") == level
                      and r["system"] == system]
                if not rs:
                    continue
                errs = sum(sum(r["errors"].values()) for r in rs)
                add("| %s | %d%% | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    name, round(level * 100), system, fmt(median([r["target_rate"] for r in rs])),
                    fmt(median([r["ok_per_s"] for r in rs])),
                    fmt(median([r["latency_us"]["p50"] for r in rs])),
                    fmt(median([r["latency_us"]["p99"] for r in rs])),
                    fmt(median([r["latency_us"]["p999"] for r in rs])),
                    fmt(median([r["latency_us"]["max"] for r in rs])),
                    fmt(median([cpu_per_msg(r) for r in rs])), errs,
                    "%.1f–%.1f" % (min(r["load"][0] for r in rs), max(r["load"][0] for r in rs))))
    var = [r for r in runs if r["phase"] == "variant"]
    if var:
        add("")
        add("**Variants** (%s messages, closed loop, the variants' runs rotated through each "
            "repetition; medians):" % var[0]["size"])
        add("")
        first = [v.strip() for v in args.variants.split(",") if v.strip()][0]
        add("| variant | msg/s (sustained) | each run | vs %s (same repetition) | CPU µs/msg "
            "| peak RSS | load |" % first)
        add("|---|---|---|---|---|---|---|")
        for spec in [v.strip() for v in args.variants.split(",") if v.strip()]:
            rs = [r for r in var if r["variant"] == spec]
            if not rs:
                continue
            ratios = []
            for r in rs:
                b = [sustained(x) for x in var if x["variant"] == first and x["rep"] == r["rep"]]
                if b and b[0]:
                    ratios.append(sustained(r) / b[0])
            add("| %s | %s | %s | %s (%s) | %s | %s MiB | %s |" % (
                spec, fmt(median([sustained(r) for r in rs])),
                ", ".join("%.0f" % sustained(r) for r in rs),
                fmt(median(ratios), "%.2f×"), ", ".join("%.2f" % x for x in ratios),
                fmt(median([cpu_per_msg(r) for r in rs])),
                fmt(median([r["peak_rss_mib"] for r in rs])),
                "%.1f–%.1f" % (min(r["load"][0] for r in rs), max(r["load"][0] for r in rs))))
    prof = results.get("profile")
    if prof:
        add("")
        add("**Where the router's CPU goes** (%s messages, closed loop at %.0f msg/s, %.0f µs of "
            "router CPU per message; %d samples of `%s`; load %.1f):" % (
                prof["size"], prof["ok_per_s"], prof["router_cpu_us_per_msg"], prof["samples"],
                prof["command"], prof["load"][0]))
        add("")
        add("| stage | share | µs per message |")
        add("|---|---|---|")
        for name, share in prof["stages"]:
            add("| %s | %.1f %% | %.0f |"
                % (name, share * 100, share * prof["router_cpu_us_per_msg"]))
        add("")
        add("By library (where the sampled instruction was): " + ", ".join(
            "%s %.0f %%" % (d, v * 100) for d, v in prof["dsos"] if v >= 0.005) + ".")
    if results["mesh"]:
        add("")
        add("**MESH → SOAP** (%d messages of %d bytes preloaded in the fake MESH server's inbox "
            "per run, fake server %s TCP_NODELAY; baseline: a bare client that only lists, "
            "downloads and acknowledges them):"
            % (results["mesh"][0]["messages"], results["mesh"][0]["de_bytes"],
               "with" if args.mesh_nodelay else "without"))
        add("")
        add("| system | runs | messages/s (median) | each run | fake MESH CPU ms/msg "
            "| router CPU µs/msg | load |")
        add("|---|---|---|---|---|---|---|")
        for who in ("router", "client"):
            rs = [r for r in results["mesh"] if r["system"] == who]
            if not rs:
                continue
            add("| %s | %d | %s | %s | %s | %s | %s |" % (
                "router (MESH → store → SOAP sink)" if who == "router" else "bare MESH client",
                len(rs), fmt(median([r["per_s"] for r in rs])),
                ", ".join("%.0f" % r["per_s"] for r in rs),
                fmt(median([r["fake_cpu_s"] / max(r["delivered"], 1) * 1e3 for r in rs]), "%.2f"),
                fmt(median([r["router_cpu_s"] / max(r["delivered"], 1) * 1e6
                            for r in rs if "router_cpu_s" in r])),
                "%.1f–%.1f" % (min(r["load"][0] for r in rs), max(r["load"][0] for r in rs))))
        ro = median([r["per_s"] for r in results["mesh"] if r["system"] == "router"])
        cl = median([r["per_s"] for r in results["mesh"] if r["system"] == "client"])
        if ro and cl:
            add("")
            add("Router / bare client: **%.2f×**." % (ro / cl))
    b = results.get("backlog")
    if b and b.get("restarts"):
        add("")
        add("**Backlog**: %d queued messages (DE bodies of %d bytes), store file %.0f MB, "
            "generated in %.0f s; the router restarted on it %d times:" % (
                b["queued"], b["body_bytes"], b["file_mb"], b["generate_s"], len(b["restarts"])))
        add("")
        add("| restart | /readyz 200 after | first SOAP request accepted after | RSS at ready | "
            "drain rate | peak RSS (VmHWM) after %gs of drain | router CPU µs/msg | load |"
            % args.drain_seconds)
        add("|---|---|---|---|---|---|---|---|")
        for r in b["restarts"]:
            add("| %d | %s s | %s s | %s MiB | %s msg/s | %s MiB | %s | %.1f |" % (
                r["rep"] + 1, fmt(r.get("readyz_s"), "%.2f"), fmt(r.get("first_accept_s"), "%.2f"),
                fmt(r.get("rss_at_ready_mib"), "%.1f"), fmt(r["drain_per_s"]),
                fmt(r.get("peak_rss_mib"), "%.1f"),
                fmt(r["router_cpu_s"] / max(r["drained"], 1) * 1e6), r["load"][0]))
    return "\n".join(lines) + "\n"


def cpu_per_msg(r):
    if not r.get("cpu_system_s") or not r.get("completed"):
        return None
    return r["cpu_system_s"] / r["completed"] * 1e6


def plot(results, args, out):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return []
    runs = results["runs"]
    made = []
    # Throughput by size (medians), log scale.
    data = os.path.join(out, "throughput.dat")
    with open(data, "w") as f:
        f.write("# size nginx router_accepted router_delivered\n")
        for name in args.sizes:
            rs = [r for r in runs if r["size"] == name and r["phase"] == "max"]
            if not rs:
                continue
            f.write("\"%s\" %s %s %s\n" % (
                name.upper().replace("K", " KB").replace("M", " MB"),
                median([r["ok_per_s"] for r in rs if r["system"] == "nginx"]) or 0,
                median([r["ok_per_s"] for r in rs if r["system"] == "router"]) or 0,
                median([r.get("delivered_per_s") for r in rs if r["system"] == "router"]) or 0))
    png = os.path.join(out, "e2e-throughput.png")
    script = """
set terminal pngcairo size 900,520 font ",11" noenhanced
set output '{png}'
set title "itk-router vs nginx proxy: maximum rate by message size ({conns} connections, medians)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [1:*]
set ylabel "messages per second (log scale)"
set grid ytics
set key top right
plot '{data}' using 2:xtic(stringcolumn(1)) title "nginx (proxy, no store)", \\
     '' using 3 title "router accepted (fsync store)", \\
     '' using 4 title "router delivered to the sink"
""".format(png=png, data=data, conns=args.connections)
    if gnuplot(script):
        made.append(png)
    # Latency percentile spectrum of one size (6k if measured) at each level.
    size = "6k" if "6k" in args.sizes else args.sizes[0]
    series = []
    for level in args.levels:
        for system in ("router", "nginx"):
            rs = [r for r in runs
                  if r["size"] == size and r.get("level") == level and r["system"] == system]
            if not rs:
                continue
            # The repetition with the median p99.
            rs.sort(key=lambda r: r["latency_us"]["p99"])
            r = rs[len(rs) // 2]
            path = os.path.join(out, "latency-%s-%d.dat" % (system, round(level * 100)))
            with open(path, "w") as f:
                for p, us in r["latency_us"]["spectrum"]:
                    if p < 100:
                        f.write("%g %g %g\n" % (p, 1.0 / (1.0 - p / 100.0), us / 1000.0))
            series.append((path, "%s at %d%% of its max (%.0f msg/s)" % (
                system, round(level * 100), r["target_rate"])))
    if series:
        png = os.path.join(out, "e2e-latency.png")
        plots = ", \\\n     ".join("'%s' using 2:3 with linespoints title \"%s\"" % s
                                    for s in series)
        script = """
set terminal pngcairo size 900,560 font ",11" noenhanced
set output '{png}'
set title "Latency by percentile, {size} messages, fixed rate (open loop, from the scheduled send)"
set logscale x
set logscale y
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000)
set xlabel "percentile"
set ylabel "latency (ms, log scale)"
set grid
set key outside bottom center horizontal maxrows 2
plot {plots}
""".format(png=png, size=size.upper().replace("K", " KB").replace("M", " MB"), plots=plots)
        if gnuplot(script):
            made.append(png)
    return made


def gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        log("gnuplot failed: " + r.stderr.strip())
    return r.returncode == 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build/bench"))
    p.add_argument("--out", help="results folder (default BUILD/e2e)")
    p.add_argument("--tmp", default=os.environ.get("ITK_BENCH_DIR", "/tmp"),
                   help="where stores and temporary files go (default /tmp or ITK_BENCH_DIR)")
    p.add_argument("--quick", action="store_true", help="a smoke run of about two minutes")
    p.add_argument("--sizes", default="2k,6k,64k,1m")
    p.add_argument("--reps", type=int, default=None, help="closed-loop repetitions per system")
    p.add_argument("--rate-reps", type=int, default=None, help="fixed-rate repetitions per system")
    p.add_argument("--levels", default="0.5,0.9", help="fixed rates as fractions of the maximum")
    p.add_argument("--warmup", type=float, default=None)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--loadgen-threads", type=int, default=1)
    p.add_argument("--sink-threads", type=int, default=1)
    p.add_argument("--nginx-workers", default="auto")
    p.add_argument("--nginx-access-log", type=int, default=1,
                   help="1: nginx writes its default access log (the router logs every message "
                        "too)")
    p.add_argument("--router-threads", type=int, default=0,
                   help="router.yaml threads (0: one per core)")
    p.add_argument("--router-concurrency", type=int, default=256,
                   help="the endpoint's max_concurrency (deliveries between claim and recorded "
                        "outcome; 256 = delivery.max_in_flight's default)")
    p.add_argument("--router-log-level", default="info")
    p.add_argument("--router-env", action="append", default=[],
                   help="KEY=VALUE for the router only")
    p.add_argument("--router-bin", help="another itk-router binary (e.g. a build before a change)")
    p.add_argument("--durability", default="fsync")
    p.add_argument("--drain-timeout", type=float, default=120)
    p.add_argument("--mesh-messages", type=int, default=None)
    p.add_argument("--mesh-size", type=int, default=6144)
    p.add_argument("--mesh-reps", type=int, default=None)
    p.add_argument("--mesh-nodelay", type=int, default=1,
                   help="1: the fake MESH server runs with TCP_NODELAY (see Bench.mesh)")
    p.add_argument("--backlog", type=int, default=None)
    p.add_argument("--backlog-body", type=int, default=2000)
    p.add_argument("--backlog-restarts", type=int, default=None)
    p.add_argument("--drain-seconds", type=float, default=None)
    p.add_argument("--variants",
                   default="router,router:concurrency=64,router:log=warn,router:durability=os,"
                           "nginx,nginx:workers=1",
                   help="the variants phase: SYSTEM[:KEY=VALUE;...] (keys: log, durability, "
                        "threads, "
                        "concurrency, env=NAME=VALUE, bin=PATH for the router; workers, access_log "
                        "for nginx)")
    p.add_argument("--variant-size", default="6k",
                   help="message size of the variants and profile phases")
    p.add_argument("--profile-seconds", type=float, default=6)
    p.add_argument("--profile-hz", type=int, default=499)
    p.add_argument("--skip", default="",
                   help="comma list of phases to skip: soap,variants,profile,mesh,backlog")
    p.add_argument("--only", default="", help="comma list of phases to run")
    p.add_argument("--publish", help="copy the plots into this folder (e.g. docs)")
    p.add_argument("--replot", metavar="RESULTS_JSON",
                   help="only rewrite results.md and the plots from an earlier run's results.json")
    args = p.parse_args()
    if args.replot:
        with open(args.replot) as f:
            results = json.load(f)
        saved = argparse.Namespace(**results["settings"])
        saved.out = args.out or os.path.dirname(os.path.abspath(args.replot))
        md = summarise(results, saved)
        with open(os.path.join(saved.out, "results.md"), "w") as f:
            f.write(md)
        plots = plot(results, saved, saved.out)
        if args.publish:
            for png in plots:
                shutil.copy(png, args.publish)
        print(md)
        return
    # --quick changes the defaults; options given explicitly still win.
    quick = {"reps": 1, "rate_reps": 1, "warmup": 1, "duration": 2, "mesh_messages": 200,
             "mesh_reps": 1, "backlog": 20000, "backlog_restarts": 1, "drain_seconds": 5}
    full = {"reps": 3, "rate_reps": 3, "warmup": 2, "duration": 8, "mesh_messages": 2000,
            "mesh_reps": 3, "backlog": 1000000, "backlog_restarts": 3, "drain_seconds": 20}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in args.sizes:
        if s not in SIZES:
            p.error("unknown size %s (known: %s)" % (s, ", ".join(SIZES)))
    args.levels = [float(x) for x in args.levels.split(",")]
    args.router_env = dict(kv.split("=", 1) for kv in args.router_env)
    args.out = args.out or os.path.join(args.build, "e2e")
    build = os.path.abspath(args.build)

    def binary(name, sub="tests/bench"):
        path = os.path.join(build, sub, name)
        if not os.access(path, os.X_OK):
            raise SystemExit("e2e: %s is missing: build %s first (make bench)" % (path, build))
        return path

    args.bin = binary
    if not shutil.which("nginx"):
        raise SystemExit("e2e: nginx is not installed "
                         "(deploy/install-deps.sh installs nginx-light)")
    phases = {"soap", "variants", "profile", "mesh", "backlog"}
    if args.only:
        phases &= set(args.only.split(","))
    phases -= set(args.skip.split(","))

    # SIGTERM (a stopped `make bench`) unwinds like Ctrl-C: every process started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    t0 = time.monotonic()
    try:
        bench.validate()
        if "soap" in phases:
            bench.soap()
        if "variants" in phases:
            bench.variants()
        if "profile" in phases:
            bench.profile()
        if "mesh" in phases:
            bench.mesh()
        if "backlog" in phases:
            bench.backlog()
    finally:
        bench.results["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        bench.results["elapsed_s"] = time.monotonic() - t0
        bench.save()
        bench.close()
    md = summarise(bench.results, args)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    plots = plot(bench.results, args, args.out)
    if args.publish:
        for png in plots:
            shutil.copy(png, args.publish)
    print()
    print(md)
    log("done in %.0f s: %s/results.{json,md}%s" % (
        time.monotonic() - t0, args.out, "".join(", " + x for x in plots)))


if __name__ == "__main__":
    main()
