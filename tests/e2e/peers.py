"""The e2e's real peers, each on loopback ports of its own: Ceph RGW (hack/rgw-up.sh),
two Prometheus servers and an nginx gateway in front of them that behaves like Mimir's
query path for tenancy:

  - no (or an empty) X-Scope-OrgID: 401 "no org id";
  - X-Scope-OrgID: <the tenant>: that tenant's Prometheus, which scrapes the compactors
    (file_sd targets written by the kubelet);
  - any other org ID: a Prometheus that scrapes nothing, i.e. a tenant without data, so
    its queries answer 200 with an empty result, as Mimir does for an unknown tenant.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from tclib import free_ports, http_get, rgw_down, rgw_up, wait  # noqa: E402

NGINX = """daemon off;
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events {}
http {
  access_log %(d)s/access.log;
  client_body_temp_path %(d)s/body;
  proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi;
  uwsgi_temp_path %(d)s/uwsgi;
  scgi_temp_path %(d)s/scgi;
  map $http_x_scope_orgid $tenant_backend {
    default 127.0.0.1:%(empty)d;
    "%(tenant)s" 127.0.0.1:%(prom)d;
  }
  server {
    listen 127.0.0.1:%(port)d;
    location /prometheus/ {
      if ($http_x_scope_orgid = "") { return 401 "no org id\\n"; }
      rewrite ^/prometheus(/.*)$ $1 break;
      proxy_pass http://$tenant_backend;
    }
  }
}
"""

PROM = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: compactor
    file_sd_configs:
      - files: [%s]
        refresh_interval: 1s
"""


class Rgw:
    def __init__(self, work):
        self.dir = os.path.join(work, "rgw")
        self.env = rgw_up(self.dir)
        self.endpoint = self.env["RGW_ENDPOINT"]
        self.key, self.secret = self.env["RGW_ACCESS_KEY"], self.env["RGW_SECRET_KEY"]

    def stop(self):
        rgw_down(self.dir)


class Prometheus:
    def __init__(self, work, name, sd_file=None):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.port = free_ports(1)[0]
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            if sd_file:
                f.write(PROM % ("'%s'" % sd_file))
            else:
                f.write("global:\n  scrape_interval: 1s\nscrape_configs: []\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait(lambda: http_get("http://127.0.0.1:%d/-/ready" % self.port)[0] == 200,
                    30, 0.1):
            self.stop()
            raise RuntimeError("prometheus %s did not start" % name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Gateway:
    def __init__(self, work, tenant, prom_port, empty_port):
        self.dir = os.path.join(work, "nginx")
        os.makedirs(self.dir)
        self.port = free_ports(1)[0]
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX % {"d": self.dir, "port": self.port, "prom": prom_port,
                             "empty": empty_port, "tenant": tenant})
        self.url = "http://127.0.0.1:%d/prometheus" % self.port
        self.proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf,
                                      "-p", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait(lambda: http_get(self.url + "/api/v1/query?query=up")[0] == 401, 10, 0.05):
            self.stop()
            raise RuntimeError("nginx did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
