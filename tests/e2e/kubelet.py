"""A small "kubelet" (with the Deployment controller's bookkeeping) for the fake API server.

It watches the Deployments of one namespace and runs each replica as a real process of
the pod template's first container: `build/bin/tempo-compactor` stands in for the image,
with the template's args and env (value, secretKeyRef, configMapKeyRef, fieldRef, envFrom
secretRef/configMapRef, read from the API server) and its volumes: a configMap volume
is written to <pod dir>/<mountPath>, an emptyDir is an empty <pod dir>/<mountPath>.

What is rewritten, because one machine is not a cluster (nothing else is):
  - paths under a volume's mountPath (in args and in tempo.yaml) point into the pod dir;
  - server.http_listen_address/port: every pod listens on 127.0.0.1 with its own port
    (pods in a cluster each have their own IP and share the containerPort);
  - compactor.ring.peers: an entry dns+<service>.<ns>.svc...:<port> naming a headless
    Service of the namespace becomes the address of every pod slot. The Service has
    publishNotReadyAddresses, so its DNS lists every pod, ready or not; the daemon probes
    each peer's /ready and counts only those that answer, so a slot without a process
    is what a pod that is not ready is. (There is no DNS server for the name here.)
It follows spec.replicas (the HPA writes it through /scale): scale-out starts pods in the
lowest free slots, scale-in sends SIGTERM to the newest pods (as the ReplicaSet controller
picks them) and SIGKILL after terminationGracePeriodSeconds. A changed pod template
replaces the pods (stop, then start). It writes a Pod object per process (podIP
127.0.0.1, the real port as containerPort) and the Deployment's status: replicas,
updatedReplicas, readyReplicas (from each process's /ready, probed every second),
availableReplicas (ready for minReadySeconds), observedGeneration, Available condition.
A file_sd target list for Prometheus (labels namespace, pod, container, as kubernetes_sd
relabelling gives them) is rewritten whenever the pod set changes.
"""
import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tclib import COMPACTOR, free_ports, http_get  # noqa: E402


class Api:
    """JSON requests to the API server."""

    def __init__(self, url):
        self.url = url

    def req(self, method, path, body=None, ctype="application/json", timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + path, data=data, method=method,
                                   headers={"Content-Type": ctype,
                                            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                out = resp.read()
                return resp.status, json.loads(out) if out else None
        except urllib.error.HTTPError as e:
            out = e.read()
            try:
                return e.code, json.loads(out)
            except ValueError:
                return e.code, None

    def get(self, path):
        code, obj = self.req("GET", path)
        return obj if code == 200 else None


def template_hash(tmpl):
    return hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]


class Pod:
    def __init__(self, name, slot, port, thash, dirpath):
        self.name, self.slot, self.port, self.thash, self.dir = name, slot, port, thash, dirpath
        self.proc = None
        self.ready_since = None  # monotonic time /ready turned 200
        self.terminating = False
        self.started = time.monotonic()


class Kubelet:
    def __init__(self, api_url, ns, work, slots=8, log=print):
        self.api = Api(api_url)
        self.ns = ns
        self.work = work
        self.log = log
        self.ports = free_ports(slots)  # one per pod slot, fixed for the run
        self.pods = {}   # deployment name -> {slot: Pod}
        self.dying = []  # Pods being stopped
        self.stop_ev = threading.Event()
        self.kick = threading.Event()
        self.sd_file = os.path.join(work, "targets.json")
        self.events = []  # (time, deployment, what)
        self._write_sd()
        self.threads = [threading.Thread(target=self._watch, daemon=True),
                        threading.Thread(target=self._loop, daemon=True)]

    # ---- lifecycle

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        """Stops the loops and every process (SIGTERM, then SIGKILL after 10 s)."""
        self.stop_ev.set()
        self.kick.set()
        for t in self.threads:
            t.join(15)
        for pods in self.pods.values():
            for p in pods.values():
                self._term(p)
        for p in self.dying:
            self._reap(p, 10)

    def addresses(self):
        return ["127.0.0.1:%d" % p for p in self.ports]

    def running(self, dep):
        """{pod name: port} of the pods of Deployment dep that are not terminating."""
        return {p.name: p.port for p in self.pods.get(dep, {}).values()}

    # ---- watch: any change of a Deployment wakes the loop

    def _watch(self):
        path = "/apis/apps/v1/namespaces/%s/deployments" % self.ns
        rv = None
        while not self.stop_ev.is_set():
            try:
                if rv is None:
                    lst = self.api.get(path)
                    rv = lst["metadata"]["resourceVersion"]
                    self.kick.set()
                url = "%s%s?watch=true&resourceVersion=%s&timeoutSeconds=30" % (
                    self.api.url, path, rv)
                with urllib.request.urlopen(url, timeout=40) as resp:
                    for line in resp:
                        ev = json.loads(line)
                        if ev["type"] == "ERROR":
                            rv = None  # 410: list again
                            break
                        rv = ev["object"]["metadata"]["resourceVersion"]
                        self.kick.set()
                        if self.stop_ev.is_set():
                            return
            except (OSError, ValueError, KeyError, TypeError):
                rv = None
                self.stop_ev.wait(0.5)

    def _loop(self):
        while not self.stop_ev.is_set():
            self.kick.wait(1.0)  # probes run every second, changes at once
            self.kick.clear()
            if self.stop_ev.is_set():
                return
            try:
                self.sync()
            except Exception as e:  # keep running; the test sees the effect
                self.log("# kubelet: sync failed: %r" % e)

    # ---- reconcile

    def sync(self):
        lst = self.api.get("/apis/apps/v1/namespaces/%s/deployments" % self.ns) or {}
        seen = set()
        for dep in lst.get("items", []):
            name = dep["metadata"]["name"]
            seen.add(name)
            self._sync_one(dep)
        for name in [n for n in self.pods if n not in seen]:
            for p in list(self.pods[name].values()):
                self._stop_pod(name, p, "deployment deleted")
            del self.pods[name]
        self.dying = [p for p in self.dying if not self._reap(p, 0)]

    def _sync_one(self, dep):
        name = dep["metadata"]["name"]
        spec = dep.get("spec") or {}
        ctrs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        image = ctrs[0].get("image", "").rsplit("/", 1)[-1].split(":")[0]
        if image != "tempo-compactor":
            return  # only the compactor image has a binary here (the test runs the controller)
        want = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        th = template_hash(tmpl)
        pods = self.pods.setdefault(name, {})
        for p in list(pods.values()):  # an exited process is a failed pod: replace it
            if p.proc.poll() is not None:
                self.log("# kubelet: %s exited with %s" % (p.name, p.proc.returncode))
                self._stop_pod(name, p, "exited")
        for p in [p for p in pods.values() if p.thash != th]:
            self._stop_pod(name, p, "template changed")
        while len(pods) > want:  # newest first
            p = max(pods.values(), key=lambda x: (x.started, x.slot))
            self._stop_pod(name, p, "scale-in to %d" % want)
        while len(pods) < want:
            free = [s for s in range(len(self.ports)) if s not in pods]
            if not free:
                self.log("# kubelet: no free pod slot for %s (%d slots)" % (name, len(self.ports)))
                break
            self._start_pod(dep, th, free[0])
        changed = False
        for p in pods.values():
            st, _ = http_get("http://127.0.0.1:%d/ready" % p.port, 1)
            if st == 200 and p.ready_since is None:
                p.ready_since = time.monotonic()
                changed = True
                self._pod_status(p, True)
            elif st != 200 and p.ready_since is not None:
                p.ready_since = None
                changed = True
                self._pod_status(p, False)
        if changed:
            self._write_sd()
        self._write_status(dep, th)

    def _write_status(self, dep, th):
        name = dep["metadata"]["name"]
        spec = dep.get("spec") or {}
        pods = self.pods.get(name, {}).values()
        min_ready = spec.get("minReadySeconds", 0)
        now = time.monotonic()
        n = len(pods)
        ready = sum(1 for p in pods if p.ready_since is not None)
        avail = sum(1 for p in pods if p.ready_since is not None and
                    now - p.ready_since >= min_ready)
        upd = sum(1 for p in pods if p.thash == th)
        want = spec.get("replicas", 1)
        max_unavail = ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get(
            "maxUnavailable", 1)
        if isinstance(max_unavail, str):  # "25%": of the desired count, rounded down
            max_unavail = int(want * int(max_unavail.rstrip("%")) / 100)
        ok = avail >= want - max_unavail
        old = dep.get("status") or {}
        oldc = {c["type"]: c for c in old.get("conditions") or []}
        cond = {"type": "Available", "status": "True" if ok else "False",
                "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability." if ok else
                "Deployment does not have minimum availability."}
        prev = oldc.get("Available")
        if prev and prev.get("status") == cond["status"]:
            cond["lastTransitionTime"] = prev.get("lastTransitionTime")
        else:
            cond["lastTransitionTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        st = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": n,
              "updatedReplicas": upd, "readyReplicas": ready, "availableReplicas": avail,
              "unavailableReplicas": max(0, want - avail), "conditions": [cond]}
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                  "unavailableReplicas"):
            if st[k] == 0:
                del st[k]  # the real controller omits zero counts
        if st == old:
            return
        code, _ = self.api.req("PUT", "/apis/apps/v1/namespaces/%s/deployments/%s/status"
                               % (self.ns, name), dict(dep, status=st))
        if code == 409:
            self.kick.set()  # changed meanwhile: again with the new object

    # ---- pods

    def _start_pod(self, dep, th, slot):
        name = dep["metadata"]["name"]
        tmpl = dep["spec"]["template"]
        podname = "%s-%s-%d" % (name, th[:5], slot)
        d = os.path.join(self.work, podname + "-%d" % int(time.time() * 1000))
        os.makedirs(d)
        port = self.ports[slot]
        pspec = tmpl.get("spec") or {}
        ctr = pspec["containers"][0]
        env = self._env(ctr, podname)
        mounts = {}  # mountPath -> host dir
        for m in ctr.get("volumeMounts") or []:
            mounts[m["mountPath"]] = os.path.join(d, m["mountPath"].lstrip("/"))
            os.makedirs(mounts[m["mountPath"]], exist_ok=True)
        vols = {v["name"]: v for v in pspec.get("volumes") or []}
        for m in ctr.get("volumeMounts") or []:
            v = vols.get(m["name"]) or {}
            if "configMap" in v:
                cm = self.api.get("/api/v1/namespaces/%s/configmaps/%s"
                                  % (self.ns, v["configMap"]["name"])) or {}
                for k, text in (cm.get("data") or {}).items():
                    with open(os.path.join(mounts[m["mountPath"]], k), "w") as f:
                        f.write(self._rewrite_config(k, text, mounts, port))
        args = [self._map_path(self._expand(a, env), mounts) for a in ctr.get("args") or []]
        p = Pod(podname, slot, port, th, d)
        p.log_path = os.path.join(d, "stdout.log")
        with open(p.log_path, "w") as log:
            p.proc = subprocess.Popen([COMPACTOR] + args, env=env, cwd=d, stdout=log,
                                      stderr=subprocess.STDOUT)
        p.grace = pspec.get("terminationGracePeriodSeconds", 30)
        self.pods[name][slot] = p
        self.events.append((time.time(), name, "start %s" % podname))
        self._create_pod_object(dep, p, ctr)
        self._write_sd()

    def _stop_pod(self, dep, p, why):
        del self.pods[dep][p.slot]
        self.events.append((time.time(), dep, "stop %s (%s)" % (p.name, why)))
        self._term(p)
        self.dying.append(p)
        self.api.req("DELETE", "/api/v1/namespaces/%s/pods/%s" % (self.ns, p.name))
        self._write_sd()

    def _term(self, p):
        if p.proc.poll() is None and not p.terminating:
            p.proc.send_signal(signal.SIGTERM)
        p.terminating = True
        p.term_at = time.monotonic()

    def _reap(self, p, wait_s):
        """True once p's process is gone; SIGKILL after its grace period."""
        try:
            p.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass
        if p.proc.poll() is None and time.monotonic() - p.term_at > p.grace:
            p.proc.kill()
            p.proc.wait()
        return p.proc.poll() is not None

    def _create_pod_object(self, dep, p, ctr):
        labels = dict((dep["spec"]["template"].get("metadata") or {}).get("labels") or {})
        ports = [dict(x) for x in ctr.get("ports") or []]
        for x in ports:
            if x.get("name") == "http-metrics":
                x["containerPort"] = p.port
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": p.name, "namespace": self.ns, "labels": labels},
               "spec": {"containers": [{"name": ctr["name"], "image": ctr.get("image", ""),
                                        "ports": ports}]}}
        self.api.req("POST", "/api/v1/namespaces/%s/pods" % self.ns, pod)
        self._pod_status(p, False)

    def _pod_status(self, p, ready):
        st = {"status": {"phase": "Running", "podIP": "127.0.0.1",
                         "conditions": [{"type": "Ready",
                                         "status": "True" if ready else "False"}]}}
        self.api.req("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (self.ns, p.name), st,
                     ctype="application/merge-patch+json")

    def _write_sd(self):
        groups = []
        for dep, pods in sorted(self.pods.items()):
            for p in sorted(pods.values(), key=lambda x: x.slot):
                groups.append({"targets": ["127.0.0.1:%d" % p.port],
                               "labels": {"namespace": self.ns, "pod": p.name,
                                          "container": "compactor"}})
        tmp = self.sd_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(groups, f)
        os.replace(tmp, self.sd_file)

    # ---- env, args, config

    def _env(self, ctr, podname):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": podname}
        for src in ctr.get("envFrom") or []:
            if "secretRef" in src:
                env.update(self._secret(src["secretRef"]["name"]))
            elif "configMapRef" in src:
                cm = self.api.get("/api/v1/namespaces/%s/configmaps/%s"
                                  % (self.ns, src["configMapRef"]["name"])) or {}
                env.update(cm.get("data") or {})
        for e in ctr.get("env") or []:
            if "value" in e:
                env[e["name"]] = self._expand(e["value"], env)
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if "secretKeyRef" in vf:
                    ref = vf["secretKeyRef"]
                    env[e["name"]] = self._secret(ref["name"]).get(ref["key"], "")
                elif "configMapKeyRef" in vf:
                    ref = vf["configMapKeyRef"]
                    cm = self.api.get("/api/v1/namespaces/%s/configmaps/%s"
                                      % (self.ns, ref["name"])) or {}
                    env[e["name"]] = (cm.get("data") or {}).get(ref["key"], "")
                elif "fieldRef" in vf:
                    env[e["name"]] = {"metadata.name": podname, "metadata.namespace": self.ns,
                                      "status.podIP": "127.0.0.1"}.get(
                                          vf["fieldRef"]["fieldPath"], "")
        return env

    def _secret(self, name):
        s = self.api.get("/api/v1/namespaces/%s/secrets/%s" % (self.ns, name)) or {}
        out = {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}
        out.update(s.get("stringData") or {})
        return out

    @staticmethod
    def _expand(s, env):
        """Kubernetes' $(VAR) expansion in args and env values ($$ escapes)."""
        out, i = [], 0
        while i < len(s):
            if s.startswith("$$", i):
                out.append("$")
                i += 2
            elif s.startswith("$(", i) and ")" in s[i:]:
                j = s.index(")", i)
                var = s[i + 2:j]
                out.append(env[var] if var in env else s[i:j + 1])
                i = j + 1
            else:
                out.append(s[i])
                i += 1
        return "".join(out)

    @staticmethod
    def _map_path(s, mounts):
        for mp in sorted(mounts, key=len, reverse=True):
            for pre in ("=", ""):
                k = pre + mp
                at = s.find(k)
                if at >= 0 and (pre or at == 0):
                    rest = s[at + len(k):]
                    if rest == "" or rest.startswith("/"):
                        return s[:at] + pre + mounts[mp] + rest
        return s

    def _rewrite_config(self, key, text, mounts, port):
        """tempo.yaml: paths under mounts into the pod dir; listen on 127.0.0.1:<pod
        port>; dns+ peers naming a headless Service of this namespace -> every pod
        slot's address (see the module comment). Other files are copied as they are."""
        if not key.endswith((".yaml", ".yml")):
            return text
        cfg = yaml.safe_load(text) or {}
        if not isinstance(cfg, dict) or "server" not in cfg and "compactor" not in cfg:
            return text

        def walk(o):
            if isinstance(o, dict):
                return {k: walk(v) for k, v in o.items()}
            if isinstance(o, list):
                return [walk(x) for x in o]
            return self._map_path(o, mounts) if isinstance(o, str) else o
        cfg = walk(cfg)
        srv = cfg.setdefault("server", {})
        srv["http_listen_address"] = "127.0.0.1"
        srv["http_listen_port"] = port
        ring = (cfg.get("compactor") or {}).get("ring") or {}
        peers = []
        for e in ring.get("peers") or []:
            if e.startswith("dns+") and self._is_service(e[4:]):
                peers.extend(self.addresses())
            else:
                peers.append(e)
        if peers:
            ring["peers"] = peers
        return yaml.safe_dump(cfg, sort_keys=False)

    def _is_service(self, hostport):
        host = hostport.rsplit(":", 1)[0]
        parts = host.split(".")
        if len(parts) < 2 or parts[1] != self.ns or parts[2:3] not in ([], ["svc"]):
            return False
        svc = self.api.get("/api/v1/namespaces/%s/services/%s" % (self.ns, parts[0]))
        return bool(svc) and (svc.get("spec") or {}).get("clusterIP") == "None"
