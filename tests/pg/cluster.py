#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for the tests (section 15).

initdb into a new folder under the system's temporary folder (world-searchable, so that
an unprivileged user can own the cluster even when the clone is in a mode-0700 folder),
as that unprivileged user when run as root (postgres refuses to run as root): `nobody`.
pg_ctl starts it on a free loopback port (its socket in the cluster's folder, nothing in
/var/run); stop() stops it and removes the folder.

    cluster.py run -- CMD ARGS...   runs CMD with OWD_TEST_STORE=postgresql://... set,
                                    then stops and removes the cluster; CMD's exit status.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

def _bin():
    """The newest Debian PostgreSQL's programs (OWD_PG_BIN names another folder)."""
    if os.environ.get("OWD_PG_BIN"):
        return os.environ["OWD_PG_BIN"]
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else "/usr/lib/postgresql/15/bin"


BIN = _bin()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, durable=False):
        # Not durable (the suites): fsync off, the server's crash is never tested; owd's
        # own crashes are, and a commit survives those whatever the server's fsync.
        self.durable = durable
        self.root = tempfile.mkdtemp(prefix="owd-pg-", dir=self._world_searchable(tempfile.gettempdir()))
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("nobody")
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.started = False

    @staticmethod
    def _world_searchable(folder):
        """`folder` when every folder on its path lets others in (the cluster's user must
        reach it), else /tmp."""
        path = os.path.abspath(folder)
        while True:
            if not os.stat(path).st_mode & 0o001:
                return "/tmp"
            if path == "/":
                return folder
            path = os.path.dirname(path)

    def _run(self, args, **kw):
        if self.user is not None:
            uid, gid = self.user.pw_uid, self.user.pw_gid

            def demote():
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            kw["preexec_fn"] = demote
        env = dict(os.environ, LC_ALL="C", HOME=self.root)
        env.pop("PGPASSWORD", None)
        return subprocess.run(args, env=env, cwd=self.root, **kw)

    def start(self):
        r = self._run([f"{BIN}/initdb", "-D", self.data, "-U", "owd", "--auth=trust", "-E", "UTF8",
                       "--no-sync", "--locale=C"], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
        os.chmod(self.root, 0o755)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.root}'\nmax_connections = 400\n"
                    "shared_buffers = 64MB\nlog_min_messages = warning\n")
            if not self.durable:
                f.write("fsync = off\nfull_page_writes = off\n")
        r = self._run([f"{BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.root, "log"),
                       "-w", "-t", "60", "start"], capture_output=True, text=True)
        if r.returncode:
            log = open(os.path.join(self.root, "log")).read() if os.path.exists(os.path.join(self.root, "log")) else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stdout}{r.stderr}{log}")
        self.started = True
        return self

    @property
    def uri(self):
        return f"postgresql://owd@127.0.0.1:{self.port}/postgres"

    def psql(self, sql, db="postgres"):
        """Runs SQL through psql; its output (unaligned, tuples only)."""
        r = subprocess.run([f"{BIN}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "owd", "-d", db, "-c", sql],
                           capture_output=True, text=True, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        if r.returncode:
            raise RuntimeError(f"psql {sql!r}: {r.stderr}")
        return r.stdout.strip()

    def stop(self):
        if self.started:
            self._run([f"{BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                      capture_output=True)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    with Cluster() as c:
        print(f"cluster.py: PostgreSQL {c.psql('SHOW server_version')} at {c.uri} (in {c.root})", flush=True)
        return subprocess.call(argv[3:], env=dict(os.environ, OWD_TEST_STORE=c.uri))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
